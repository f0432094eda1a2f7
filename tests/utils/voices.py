"""Real speakers for the voice-print tests, and recordings that carry their speech.

Who speaks what is known from where the clips come from (liveguard/voice_calibration.py):
the five LibriVox clips are one reader; the f5-tts example voices are one speaker each.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ingest.decode import SAMPLE_RATE
from liveguard.voice_calibration import F5_VOICES, POCKETSPHINX, TESTDATA, _load
from tests.utils.media import write_wav

LIBRIVOX = POCKETSPHINX / "librivox"


def librivox(sentence: str) -> np.ndarray:
    """One LibriVox clip by its sentence number (0870, 0880, 0890, 0920, 0930)."""
    return _load(LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{sentence}.wav")


def f5_voice(speaker: str) -> np.ndarray:
    """One of the f5-tts example speakers: f5-en, f5-zh, f5-main, f5-town, f5-country."""
    return _load(TESTDATA / F5_VOICES[speaker])


def halves(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return audio[:len(audio) // 2], audio[len(audio) // 2:]


def join(*parts: np.ndarray | float) -> np.ndarray:
    """Audio and silences (float seconds) one after the other."""
    return np.concatenate([np.zeros(int(p * SAMPLE_RATE), np.float32) if isinstance(p, (int, float)) else p
                           for p in parts]).astype(np.float32)


def window(audio: np.ndarray, t0: float = 0.0) -> SimpleNamespace:
    """What the voice checker reads from an ingest Window."""
    return SimpleNamespace(t0=t0, audio=audio)


def windows(audio: np.ndarray, seconds: float) -> list[SimpleNamespace]:
    """Audio cut into back-to-back windows of `seconds` (cut anywhere, even mid-word)."""
    n = int(seconds * SAMPLE_RATE)
    return [window(audio[i:i + n], i / SAMPLE_RATE) for i in range(0, len(audio), n)]


def speech_video(audio: np.ndarray, out: Path) -> Path:
    """An H.264/AAC recording: a plain dark picture (no face) with `audio` as its sound."""
    from tests.utils.media import run

    wav = write_wav(out.with_suffix(".wav"), audio)
    seconds = len(audio) / SAMPLE_RATE
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"color=c=0x202830:s=320x180:r=5:d={seconds:.2f}", "-i", str(wav), "-c:v", "libx264", "-preset",
         "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest", str(out)])
    return out
