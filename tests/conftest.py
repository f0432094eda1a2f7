"""Shared fixtures: tiny random Whisper (fast, real architecture) and the real default model."""

from __future__ import annotations

import os

import pytest

# Test modules import Ray before the monitor does: keep every local Ray on loopback from the start
# (see pipeline.ray_monitor._local_ray_on_loopback).
if not os.environ.get("RAY_ADDRESS"):
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from asr import AsrOptions, Transcriber, load_whisper
from models.tiny import save_tiny_whisper


@pytest.fixture(scope="session")
def tiny_whisper_path(tmp_path_factory):
    return save_tiny_whisper(tmp_path_factory.mktemp("tiny") / "tiny-whisper.pt")


@pytest.fixture(scope="session")
def tiny_whisper(tiny_whisper_path):
    return load_whisper(str(tiny_whisper_path), device="cpu")


@pytest.fixture(scope="session")
def base_whisper():
    """The real default model (Whisper base from the pip packages), prepared once into the cache."""
    return load_whisper("whisper-base", device="cpu")


@pytest.fixture(scope="session")
def base_transcriber(base_whisper):
    return Transcriber(base_whisper, AsrOptions(batch_size=4))
