"""Reading spans of a live stream back from its rolling recording (after a crash of the monitor).

Each recording segment knows the stream time of its first packet; a segment decodes on its own, so
stream time = segment start + time in the file. Segments of one connection follow each other
without holes; between connections (or runs) the items carry a StreamBreak, as a live drop does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from ingest.decode import SAMPLE_RATE, AudioBlock, VideoFrame, decode_media
from ingest.recorder import Segment
from ingest.windows import StreamBreak
from liveguard.errors import MediaError

__all__ = ["recorded_items"]

log = logging.getLogger(__name__)


def recorded_items(segments: list[Segment], spans: list[tuple[float, float]], frame_fps: float = 0.0,
                   frame_height: int = 360) -> Iterator[AudioBlock | VideoFrame | StreamBreak]:
    """Audio blocks (and sampled frames) of the recording within `spans` (stream seconds, in
    order), on stream time. A segment that cannot be decoded is skipped with a warning: what can be
    read back is read back."""
    for lo, hi in spans:
        last: Segment | None = None
        for seg in [s for s in segments if s.t0 < hi and lo < s.t1]:
            if last is not None and ((seg.run, seg.session) != (last.run, last.session) or seg.t0 - last.t1 > 0.5):
                yield StreamBreak(last.t1)
            last = seg
            try:
                for item in decode_media(seg.path, frame_fps=frame_fps, frame_height=frame_height):
                    if isinstance(item, VideoFrame):
                        t = seg.t0 + item.t
                        if lo <= t < hi:
                            yield VideoFrame(t, item.image)
                        continue
                    t0 = seg.t0 + item.t0
                    a = max(0, int(round((lo - t0) * SAMPLE_RATE)))
                    b = min(len(item.samples), int(round((hi - t0) * SAMPLE_RATE)))
                    if b > a:
                        yield AudioBlock(t0 + a / SAMPLE_RATE, item.samples[a:b])
            except MediaError as exc:
                log.warning("recording %s could not be read back: %s", seg.path, exc)
        if last is not None:
            yield StreamBreak(min(hi, last.t1))
