"""Records the ASR stage hands downstream."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Segment"]


@dataclass(frozen=True)
class Segment:
    stream_id: str
    t0: float  # stream seconds
    t1: float
    text: str  # Chinese already in Simplified characters
    lang: str
    avg_logprob: float  # of the decoded chunk the segment came from
    no_speech_prob: float
    compression_ratio: float
    hallucination: bool = False  # kept in the transcript, never used for findings
    hallucination_reason: str | None = None
    model_id: str = ""
