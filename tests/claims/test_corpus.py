"""The claims corpus: split by writer and source, reproducible, and big enough."""
from __future__ import annotations

import json

import pytest

from claims.corpus import BUILD_DIR, SPLITS, build, split_of


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_committed_splits_are_what_build_makes(tmp_path):
    """The split files in git are the corpus as built now (edit writers/ or sources/, then rebuild)."""
    summary = build(out=tmp_path)
    for name in ("train", "calib", "test", "template_test", "nonselling_test"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (BUILD_DIR / f"{name}.jsonl").read_bytes(), name
    assert summary["sha256"] == json.loads((BUILD_DIR / "summary.json").read_text())["sha256"]


def test_writers_and_sources_never_cross_splits():
    splits = {name: _rows(BUILD_DIR / f"{name}.jsonl") for name in ("train", "calib", "test", "nonselling_test")}
    writers = {name: {r["writer"] for r in rows} for name, rows in splits.items()}
    for held_out in ("test", "nonselling_test"):
        assert not (writers["train"] & writers[held_out]) and not (writers["calib"] & writers[held_out])
    assert not ((writers["train"] - {"template"}) & writers["calib"])  # templates: whole templates per split
    assert set(SPLITS["test_writers"]) <= writers["test"]
    assert any(w.startswith("public:") for w in writers["test"]) and any(w.startswith("public:") for w in writers["train"])
    assert writers["nonselling_test"] == set(SPLITS["nonselling_test_writers"])
    assert splits["nonselling_test"] and not any(r["labels"] for r in splits["nonselling_test"])
    test_texts = {r["text"].strip() for r in splits["test"] + splits["nonselling_test"]}
    assert not any(r["text"].strip() in test_texts for r in splits["train"] + splits["calib"])


def test_the_corpus_is_large_varied_and_has_provenance():
    rows = [r for name in ("train", "calib", "test") for r in _rows(BUILD_DIR / f"{name}.jsonl")]
    assert len(rows) >= 6000
    free_text = [r for r in rows if r["writer"] != "template"]
    assert len(free_text) > len(rows) / 2  # most items are written text, not template fills
    kinds = {r.get("kind") for r in rows}
    assert {"direct", "indirect", "evasion", "asr_noised", "multi", "hard_negative"} <= kinds
    assert all(r.get("source") for r in rows if r["writer"].startswith("public:"))
    assert all(len(r["segments"]) >= 2 for r in rows if r.get("kind") == "multi")
    langs = {r.get("lang") for r in rows}
    assert {"zh", "en"} <= langs


def _tiny_corpus(root, public_rows, train_only_rows):
    for sub in ("writers", "sources", "noise"):
        (root / sub).mkdir(parents=True)
    (root / "sources" / "public.jsonl").write_text("".join(json.dumps(r) + "\n" for r in public_rows))
    (root / "sources" / "late_train_only.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_only_rows))


def test_sources_gathered_after_the_test_split_was_fixed_only_train(tmp_path):
    """A group that hashes to test goes to test from sources/public.jsonl, but to train from a
    *_train_only file (the held-out test stays the same set); a group in both files is refused."""
    group = next(f"public:g{i}" for i in range(100) if split_of(f"public:g{i}") == "test")
    row = {"text": "Cures arthritis in a week", "labels": ["medical_claim_non_drug"], "lang": "en",
           "kind": "public_quote", "writer": group, "source": "case 1"}
    _tiny_corpus(tmp_path / "a", [row], [])
    summary = build(root=tmp_path / "a", out=tmp_path / "a" / "splits")
    assert summary["splits"]["test"]["writers"].get(group) == 1
    _tiny_corpus(tmp_path / "b", [], [row])
    summary = build(root=tmp_path / "b", out=tmp_path / "b" / "splits")
    assert summary["splits"]["train"]["writers"].get(group) == 1 and group not in summary["splits"]["test"]["writers"]
    _tiny_corpus(tmp_path / "c", [row], [{**row, "text": "Reverses diabetes"}])
    with pytest.raises(ValueError, match="both in a train-only file"):
        build(root=tmp_path / "c", out=tmp_path / "c" / "splits")
