"""Builders for test media: real FFmpeg encodes, espeak-ng speech, real LibriVox clips.

Audio is assembled in numpy first, so every utterance's start time in the file is known exactly.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.decode import SAMPLE_RATE

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@dataclass(frozen=True)
class Placed:
    text: str
    t0: float
    t1: float


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def espeak(text: str, tmp: Path, speed: int = 150) -> np.ndarray:
    """English speech from espeak-ng at 16 kHz mono float32."""
    from liveguard.bench_asr import load_audio

    wav = tmp / f"espeak_{abs(hash((text, speed)))}.wav"
    run(["espeak-ng", "-v", "en-us", "-s", str(speed), "-w", str(wav), text])
    return load_audio(wav)


def write_wav(path: Path, audio: np.ndarray) -> Path:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return path


def assemble(parts: list[str | float | np.ndarray], tmp: Path) -> tuple[np.ndarray, list[Placed]]:
    """Concatenate speech (str -> espeak, ndarray -> as is) and silences (float seconds)."""
    chunks, placed, t = [], [], 0.0
    for part in parts:
        if isinstance(part, (int, float)):
            audio, text = np.zeros(int(part * SAMPLE_RATE), np.float32), None
        elif isinstance(part, str):
            audio, text = espeak(part, tmp), part
        else:
            audio, text = part.astype(np.float32), "<clip>"
        if text is not None:
            placed.append(Placed(text, t, t + len(audio) / SAMPLE_RATE))
        chunks.append(audio)
        t += len(audio) / SAMPLE_RATE
    return np.concatenate(chunks), placed


def make_recording(path: Path, audio: np.ndarray | None, video: bool = True, vcodec: str = "libx264",
                   acodec: str = "aac", fmt: str | None = None, duration: float | None = None) -> Path:
    """Mux `audio` (16 kHz float32) with a synthetic picture into `path` using the ffmpeg CLI."""
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
    if video:
        dur = duration or (len(audio) / SAMPLE_RATE if audio is not None else 5.0)
        cmd += ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=10:duration={dur:.3f}"]
    if audio is not None:
        wav = write_wav(path.with_suffix(".src.wav"), audio)
        cmd += ["-i", str(wav)]
    if video:
        cmd += ["-c:v", vcodec, "-pix_fmt", "yuv420p"] if vcodec in ("libx264", "mpeg4") else ["-c:v", vcodec]
        if vcodec == "libx264":
            cmd += ["-crf", "38", "-preset", "veryfast"]  # tiny files: the picture is a test pattern
    if audio is not None:
        cmd += ["-c:a", acodec] + (["-b:a", "48k"] if acodec == "aac" else [])
    if fmt:
        cmd += ["-f", fmt]
    run(cmd + ["-shortest", str(path)] if video and audio is not None else cmd + [str(path)])
    if audio is not None:
        path.with_suffix(".src.wav").unlink()
    return path


def librivox(name: str = "sense_and_sensibility_01_austen_64kb-0870") -> np.ndarray:
    from liveguard.bench_asr import load_audio

    return load_audio(LIBRIVOX / f"{name}.wav")
