"""The files of a training or evaluation folder (real vs synthetic images or voices)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vision.errors import VisionError

__all__ = ["files_in"]


def files_in(folder: str | Path, extensions: Iterable[str], what: str) -> list[Path]:
    """Every file under `folder` (recursively, sorted) whose suffix is one of `extensions`; a
    VisionError naming the folder when it is not a directory or holds none (`what`: "images")."""
    root = Path(folder)
    if not root.is_dir():
        raise VisionError(f"{root}: not a directory of {what}")
    extensions = set(extensions)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in extensions)
    if not files:
        raise VisionError(f"{root}: no {what} ({', '.join(sorted(extensions))})")
    return files
