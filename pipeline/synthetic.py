"""A presenter that looks or sounds synthetic, with no AI label on screen: `undisclosed_ai_content`.

Off unless the user gives a model: a synthetic-image probe (vision.synthetic_image) and/or a
synthetic-voice network (vision.synthetic_voice). LiveGuard ships neither (no training data for
real face swaps or voice clones installs offline: docs/vision.md), so without them this module
produces nothing.

    frames (one per `interval_s`) -> P(synthetic image)      \\
    audio (4 s crops, loud enough) -> P(synthetic voice)     -> hits above threshold -> stretches
    OCR readings -> the AI label's timeline (vision.ai_label) /   (hits <= merge_gap_s apart)

A stretch with at least `min_hits` hits becomes a finding unless the label was read on every OCR
reading inside it (a persistent label discloses it). With OCR off the label cannot be checked and
the evidence says so. The score is the stretch's highest model score: a probe's output, only as
meaningful as the evaluation the probe was saved with (quoted in the evidence via its model id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from claims import get_label
from pipeline.findings import Finding
from pipeline.impersonation import iter_frames
from vision.ai_label import AiLabelReport, LabelOptions, check_ai_label
from vision.synthetic_image import SyntheticImageScorer
from vision.synthetic_voice import SAMPLE_RATE, SyntheticVoiceModel, crops

__all__ = ["LABEL", "SyntheticOptions", "SyntheticHit", "SyntheticChecker", "WithSyntheticCheck",
           "synthetic_findings"]

LABEL = "undisclosed_ai_content"
MIN_RMS = 0.01  # about -40 dBFS: quieter voice crops (silence, room tone) are not scored


@dataclass(frozen=True)
class SyntheticOptions:
    image_threshold: float | None = None  # None: the probe's own (its hold-out EER threshold)
    voice_threshold: float | None = None  # None: the checkpoint's own
    interval_s: float = 2.0  # one frame scored per this many seconds (CLIP: ~0.1-0.2 s per frame on a CPU core)
    min_hits: int = 2  # a single high frame or crop is noise; a stretch needs this many
    merge_gap_s: float = 8.0  # hits closer than this belong to one stretch
    evidence_hits: int = 5

    def __post_init__(self):
        for t in (self.image_threshold, self.voice_threshold):
            if t is not None and not 0 < t < 1:
                raise ValueError(f"thresholds must be in (0, 1), got {t}")
        if self.interval_s <= 0 or self.min_hits < 1 or self.merge_gap_s < 0:
            raise ValueError(f"need interval_s > 0, min_hits >= 1, merge_gap_s >= 0; got {self}")


@dataclass(frozen=True)
class SyntheticHit:
    t0: float
    t1: float
    modality: str  # "image" | "voice"
    score: float


def _stretches(hits: list[SyntheticHit], gap: float) -> list[list[SyntheticHit]]:
    out: list[list[SyntheticHit]] = []
    for h in sorted(hits, key=lambda h: h.t0):
        if out and h.t0 - max(x.t1 for x in out[-1]) <= gap:
            out[-1].append(h)
        else:
            out.append([h])
    return out


def _label_state(report: AiLabelReport | None, t0: float, t1: float) -> tuple[bool, str]:
    """(disclosed, words for the evidence) for the stretch [t0, t1]."""
    if report is None or not report.checks:
        return False, "AI label not checked (no OCR readings; run with --ocr)"
    inside = [c for c in report.checks if t0 - 1e-6 <= c.t <= t1 + 1e-6]
    if not inside:  # OCR runs every few seconds: judge by the reading just before the stretch
        before = [c for c in report.checks if c.t <= t0]
        inside = before[-1:] if before else report.checks[:1]
    shown = [c for c in inside if c.label]
    if len(shown) == len(inside):
        return True, f"AI label {shown[0].label!r} on screen"
    if not report.labelled:
        return False, f"no AI label read on screen at any of {len(report.checks)} OCR readings"
    return False, f"AI label missing from {len(inside) - len(shown)} of {len(inside)} OCR readings in this stretch"


def synthetic_findings(hits: Iterable[SyntheticHit], label_report: AiLabelReport | None, model_ids: dict[str, str],
                       source: str = "", opts: SyntheticOptions = SyntheticOptions()) -> list[Finding]:
    label = get_label(LABEL)
    out = []
    for group in _stretches(list(hits), opts.merge_gap_s):
        if len(group) < opts.min_hits:
            continue
        t0, t1 = min(h.t0 for h in group), max(h.t1 for h in group)
        disclosed, label_words = _label_state(label_report, t0, t1)
        if disclosed:
            continue
        parts = []
        for modality in ("image", "voice"):
            hs = [h for h in group if h.modality == modality]
            if hs:
                best = sorted(hs, key=lambda h: h.score, reverse=True)[:opts.evidence_hits]
                at = ", ".join(f"{h.t0:.1f}:{h.score:.2f}" for h in sorted(best, key=lambda h: h.t0))
                parts.append(f"synthetic-{modality} score max {max(h.score for h in hs):.3f} in {len(hs)} "
                             f"{'frame' if modality == 'image' else 'crop'}(s) ({model_ids[modality]}; t:score {at})")
        out.append(Finding(
            source=source, t0=round(t0, 3), t1=round(t1, 3), label=LABEL,
            score=round(max(h.score for h in group), 4), evidence="; ".join(parts) + f"; {label_words}",
            decided_by="+".join(model_ids[m] for m in ("image", "voice") if any(h.modality == m for h in group)),
            legal_basis=label.legal_basis, severity=label.severity, segment_text="", lang="", asr_model=""))
    return out


class SyntheticChecker:
    """Scores frames and voice of one recording or stream as windows arrive; findings at finish()
    (they depend on the AI label's whole timeline). Keeps only the hits, not frames or audio."""

    def __init__(self, source: str, image: SyntheticImageScorer | None = None, voice: SyntheticVoiceModel | None = None,
                 opts: SyntheticOptions = SyntheticOptions()):
        if image is None and voice is None:
            raise ValueError("SyntheticChecker needs an image probe or a voice model")
        self.source, self.image, self.voice, self.opts = source, image, voice, opts
        self.image_threshold = opts.image_threshold or (image.probe.threshold if image else None)
        self.voice_threshold = opts.voice_threshold or (voice.threshold if voice else None)
        self.hits: list[SyntheticHit] = []
        self.scored = {"image": 0, "voice": 0}
        self._next_t: float | None = None

    @property
    def model_ids(self) -> dict[str, str]:
        return {"image": self.image.probe.model_id if self.image else "",
                "voice": self.voice.model_id if self.voice else ""}

    def feed(self, window) -> list[Finding]:
        if self.image is not None:
            due = []
            for f in iter_frames([window]):
                if self._next_t is None or f.t >= self._next_t - 1e-6:
                    self._next_t = f.t + self.opts.interval_s
                    due.append(f)
            for f, s in zip(due, self.image.score([f.image for f in due]) if due else []):
                if s is not None:
                    self.scored["image"] += 1
                    if s >= self.image_threshold:
                        self.hits.append(SyntheticHit(f.t, f.t, "image", s))
        audio = getattr(window, "audio", None)
        if self.voice is not None and audio is not None and len(audio):
            seg = self.voice.cfg.segment_s
            if len(audio) >= seg * SAMPLE_RATE:  # a short tail is scored with the next stream only in live use
                c = crops(audio, seg)
                loud = np.sqrt((c ** 2).mean(axis=1)) >= MIN_RMS
                if loud.any():
                    scores = self.voice.score_crops(c[loud])
                    for i, s in zip(np.flatnonzero(loud), scores):
                        self.scored["voice"] += 1
                        if s >= self.voice_threshold:
                            t0 = window.t0 + i * seg
                            self.hits.append(SyntheticHit(t0, t0 + seg, "voice", float(s)))
        return []  # findings need the label timeline: finish()

    def finish(self, label_report: AiLabelReport | None) -> list[Finding]:
        return synthetic_findings(self.hits, label_report, self.model_ids, self.source, self.opts)


class WithSyntheticCheck:
    """A visual checker (faces, OCR, AI label) plus the synthetic check, behind the same
    feed()/finish() the scan loop calls. The label timeline comes from the visual checker's OCR
    readings, so the screen is read once for both."""

    def __init__(self, visual, synthetic: SyntheticChecker, label_opts: LabelOptions = LabelOptions()):
        self.visual, self.synthetic, self.label_opts = visual, synthetic, label_opts

    def feed(self, window) -> list[Finding]:
        out = self.visual.feed(window) if self.visual is not None else []
        return out + self.synthetic.feed(window)

    def finish(self) -> list[Finding]:
        out = self.visual.finish() if self.visual is not None else []
        readings = getattr(self.visual, "readings", None)
        report = check_ai_label(readings, self.label_opts) if readings else None
        return sorted(out + self.synthetic.finish(report), key=lambda f: (f.t0, f.label))
