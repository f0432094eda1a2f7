"""The protected-people gallery behind the API: where it lives, one writer at a time, uploads
turned into prints.

The gallery is vision.gallery's JSON file, the same one `liveguard gallery` and `scan --gallery`
use, so the CLI and the service can share it. Writes are read-modify-write of the whole file;
an exclusive lock on a `.lock` file beside it serialises writers across threads *and* processes
(a CLI enrolment while the server runs), so no enrolment is lost. Readers need no lock: the file
is replaced atomically.
"""

from __future__ import annotations

import fcntl
import io
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from fastapi import HTTPException

from serve.errors import invalid
from serve.settings import Settings

__all__ = ["GALLERY_FILE", "gallery_path", "locked", "open_gallery", "decode_photo", "face_print", "voice_print"]

GALLERY_FILE = "liveguard-gallery.json"
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty for a face; larger is refused, not decoded
_models_lock = threading.Lock()  # the face / voice models load once per process


def gallery_path(settings: Settings) -> Path:
    """settings.gallery_path, else beside the SQLite database file, else in evidence_dir (the
    service's data directory when the database is a server)."""
    if settings.gallery_path is not None:
        return settings.gallery_path
    url = settings.db_url
    if url.startswith("sqlite:///") and ":memory:" not in url and len(url) > len("sqlite:///"):
        return Path(url[len("sqlite:///"):].split("?", 1)[0]).parent / GALLERY_FILE
    return settings.evidence_dir / GALLERY_FILE


def open_gallery(path: Path):
    from vision.errors import GalleryError
    from vision.gallery import Gallery

    try:
        return Gallery.open(path)
    except GalleryError as exc:  # the file on the server is damaged or from another model: not the caller's fault
        raise HTTPException(503, f"the gallery file cannot be used: {exc}") from exc


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def decode_photo(data: bytes, label: str) -> np.ndarray:
    """RGB array of an uploaded photo; 422 for anything that is not a usable image."""
    from PIL import Image, UnidentifiedImageError

    from vision.faces import as_rgb

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ValueError(f"{img.width}x{img.height} px is over {MAX_PIXELS:,} pixels")
                return as_rgb(np.asarray(img.convert("RGB")))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:  # Pillow raises SyntaxError on some broken headers
        raise invalid(f"{label}: not a readable image ({exc})", "images") from exc


def _analyzer(state):
    with _models_lock:
        if getattr(state, "face_analyzer", None) is None:
            from vision.faces import FaceAnalyzer

            state.face_analyzer = FaceAnalyzer()
        return state.face_analyzer


def face_print(state, data: bytes, label: str) -> np.ndarray:
    """The face print of an uploaded photo; 422 unless it shows exactly one face."""
    from vision.errors import FaceCountError, ImageReadError
    from vision.gallery import enrol_face

    image = decode_photo(data, label)
    try:
        return enrol_face(_analyzer(state), image)
    except FaceCountError as exc:
        raise invalid(str(exc).replace("image:", f"{label}:", 1), "images") from exc
    except ImageReadError as exc:
        raise invalid(f"{label}: {exc}", "images") from exc


def _decode_audio(data: bytes, label: str) -> np.ndarray:
    from ingest.decode import AudioBlock, decode_media
    from liveguard.errors import MediaError

    with tempfile.NamedTemporaryFile(suffix=".media") as f:  # FFmpeg probes files better than pipes
        f.write(data)
        f.flush()
        try:
            blocks = [b.samples for b in decode_media(f.name, frame_fps=0) if isinstance(b, AudioBlock)]
        except MediaError as exc:
            raise invalid(f"{label}: not a readable recording ({str(exc).replace(f.name, label)})", "voice") from exc
    if not blocks:
        raise invalid(f"{label}: the recording holds no audio", "voice")
    return np.concatenate(blocks).astype(np.float32)


def voice_print(state, data: bytes, label: str) -> tuple[np.ndarray, str]:
    """(voice print, model id) of an uploaded recording of one person speaking.

    The recording is checked first (junk is a 422 whatever the build); 501 when this build has no
    voice-print module, 422 when the recording holds too little speech."""
    audio = _decode_audio(data, label)
    try:
        from asr.vad import SpeechDetector
        from pipeline.voices import enrol_voice
        from vision.errors import VoiceSampleError
        from vision.voiceprint import VOICE_MODEL_ID, VoiceEncoder
    except ImportError as exc:
        raise HTTPException(501, "voice enrolment is not available in this build (no voice-print module); "
                                 "enrol the face only") from exc
    from liveguard.errors import ModelError

    try:
        with _models_lock:
            if getattr(state, "voice_models", None) is None:
                state.voice_models = (VoiceEncoder(), SpeechDetector())
        encoder, vad = state.voice_models
        return enrol_voice(audio, encoder, vad, label=label), VOICE_MODEL_ID
    except VoiceSampleError as exc:
        raise invalid(str(exc), "voice") from exc
    except ModelError as exc:
        raise HTTPException(501, f"voice enrolment is not available: {exc}") from exc
