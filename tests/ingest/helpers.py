"""Small ffmpeg-CLI builders shared by the ingest tests (encoders checked at runtime)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import pytest

from tests.utils.media import run


@functools.cache
def encoders() -> frozenset[str]:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)


def need(*names: str) -> None:
    missing = [n for n in names if n not in encoders()]
    if missing:
        pytest.skip(f"this ffmpeg build has no encoder {', '.join(missing)}")


def ffmpeg(out: Path, *args: str) -> Path:
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)])
    return out


def lavfi_video(duration: float, size: str = "320x240", rate: int = 15) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={duration}"]


def lavfi_sine(duration: float, rate: int = 44100, freq: int = 440) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={rate}:duration={duration}"]
