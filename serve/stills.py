"""Still pictures from an evidence clip for the review page: what was on screen when the words
were said (faces, on-screen text, an AI label or its absence), and for a face flag the face."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import av
import cv2
import numpy as np

__all__ = ["face_crop_jpeg", "frame_at", "still_jpeg"]

log = logging.getLogger(__name__)


def frame_at(clip: str | Path, t: float) -> np.ndarray | None:
    """The first picture at or after `t` seconds into the clip (the last one if `t` is past the
    end), BGR at the clip's own size; None when the clip has no picture or cannot be read."""
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
            return None if picture is None else picture.to_ndarray(format="bgr24")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        log.info("no still from %s at %.2f s: %s", clip, t, exc)
        return None


def _jpeg(image: np.ndarray, max_height: int) -> bytes | None:
    h, w = image.shape[:2]
    if h > max_height:
        image = cv2.resize(image, (max(2, round(w * max_height / h)), max_height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes() if ok else None


def still_jpeg(clip: str | Path, t: float, max_height: int = 360) -> bytes | None:
    """The picture at `t` seconds into the clip as JPEG, at most `max_height` px high."""
    image = frame_at(clip, t)
    return None if image is None else _jpeg(image, max_height)


_detector_lock = threading.Lock()
_detector = None


def face_crop_jpeg(clip: str | Path, t: float, min_face_px: int = 40, size: int = 160) -> bytes | None:
    """The largest face in the picture at `t` (searched at the clip's own resolution, so a 40 px
    face of a 1080p room is found), with a margin, as a `size` px high JPEG; None if no face."""
    global _detector
    image = frame_at(clip, t)
    if image is None:
        return None
    from vision.faces import FaceDetector  # dlib loads on the first crop, not with the server

    with _detector_lock:  # dlib's detector is not safe across threads
        if _detector is None:
            _detector = FaceDetector()
        faces = _detector.detect_scaled(image[:, :, ::-1], min_face_px)
    if not faces:
        return None
    x0, y0, x1, y1 = max((box for box, _ in faces), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    m = round(0.4 * max(x1 - x0, y1 - y0))  # hair, chin and a little background: who it is
    h, w = image.shape[:2]
    crop = image[max(0, y0 - m):min(h, y1 + m), max(0, x0 - m):min(w, x1 + m)]
    crop = cv2.resize(crop, (max(2, round(crop.shape[1] * size / crop.shape[0])), size),
                      interpolation=cv2.INTER_CUBIC if crop.shape[0] < size else cv2.INTER_AREA)
    return _jpeg(crop, size)
