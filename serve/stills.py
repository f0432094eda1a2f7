"""Still pictures from an evidence clip for the review page: what was on screen when the words
were said (faces, on-screen text, an AI label or its absence)."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import cv2

__all__ = ["still_jpeg"]

log = logging.getLogger(__name__)


def still_jpeg(clip: str | Path, t: float, max_height: int = 360) -> bytes | None:
    """The first picture at or after `t` seconds into the clip (the last one if `t` is past the
    end), as JPEG at most `max_height` px high; None when the clip has no picture or cannot be read."""
    try:
        with av.open(str(clip)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if t > 0 and stream.time_base:
                container.seek(int(t / stream.time_base), stream=stream, backward=True)
            picture = None
            for frame in container.decode(stream):
                picture = frame
                if frame.time is not None and frame.time >= t - 1e-3:
                    break
            if picture is None:
                return None
            image = picture.to_ndarray(format="bgr24")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        log.info("no still from %s at %.2f s: %s", clip, t, exc)
        return None
    h, w = image.shape[:2]
    if h > max_height:
        image = cv2.resize(image, (max(2, round(w * max_height / h)), max_height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes() if ok else None
