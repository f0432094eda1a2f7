"""The labelled corpus behind the claims model, split by writer and by source (never by item).

Inputs (claims/data/corpus/, each line an item with `writer`; see WRITING_BRIEF.md):
  writers/<writer>.jsonl   free text by independent writers, one persona each
  sources/<name>.jsonl     phrasing quoted in public penalty decisions, regulators' typical cases
                           and banned-word lists, with `source` (URL or case number) per item
  noise/*.jsonl            English items spoken by espeak-ng and transcribed by Whisper base
                           (scripts/asr_roundtrip.py), kept with their writer
  ../dataset/{train,test}.jsonl  the earlier template set (writer "template"), its own split
Chinese near-sound variants (claims/noise.py) are added here for every writer's zh items.

Splits (SPLITS below): `test` holds whole writers and whole public sources that no training
step sees; `calib` holds whole writers used only to calibrate scores and thresholds; `train` is
the rest. The template set keeps its template split (its test part is one more test split,
`template_test`). A text that occurs in a test split is removed from train and calib.

`build()` writes train.jsonl, calib.jsonl, test.jsonl, template_test.jsonl and nonselling_test.jsonl
(held-out speech with no selling in it, every item lawful) under
claims/data/corpus/splits/ and a summary; deterministic for given inputs.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path

from .evaluate import EvalItem, parse_item
from .noise import zh_asr_variant
from .taxonomy import SUBSUMES

__all__ = ["CORPUS_DIR", "SPLITS", "load_corpus", "build", "corpus_sha256", "split_of"]

CORPUS_DIR = Path(__file__).parent / "data" / "corpus"
TEMPLATE_DIR = Path(__file__).parent / "data" / "dataset"
BUILD_DIR = CORPUS_DIR / "splits"
# Held-out writers and sources. The test writers wrote from the label definitions alone and never
# saw any training item, rule or template.
SPLITS = {
    "test_writers": ("t1_rooms_zh", "t2_rooms_en"),
    "calib_writers": ("w6_service_voice_mixed", "w10_daily_goods_zh", "w13_kuaishou_laotie_zh", "w14_casual_live_en",
                      "w43_not_selling_mixed"),
    # Speech that sells nothing (stories, card calls, commentary, chit-chat), written for a test of
    # its own: `test` measures false alarms on lawful live-commerce talk only, and in session 9 two
    # training rounds that kept its F1 flagged audiobook and card reading as claims.
    "nonselling_test_writers": ("t3_not_selling_mixed",),
}
PUBLIC_TEST_SHARE = 3  # in 10: public source groups (by a hash of their id) whose items are all test
TEMPLATE_CALIB_SHARE = 0.2  # of the template set's train templates, held out whole for calibration
# One labelling convention over every writer (taxonomy.SUBSUMES): writers differed on whether
# health food said to treat disease also carries `medical_claim_non_drug`; it is dropped.
NOISE_SEED = 29
NOISE_SHARE = 0.35  # share of each writer's zh items that also get a near-sound variant
# An espeak-ng + Whisper transcript further than this (word error rate against the text spoken)
# has likely lost the claim with the words: its label would be a guess, so it is left out.
MAX_ASR_WER = 0.4
# Public sources gathered after the test split was fixed (session 9 on) live in sources/*_train_only.jsonl
# and always train: hashing their groups would move 30% of them into test, and the held-out test must
# stay the same set from model to model to be compared. A group id may not also appear in another
# source file (a source never straddles splits).
TRAIN_ONLY_SUFFIX = "_train_only"


def split_of(writer: str | None) -> str:
    w = writer or ""
    if w.startswith("public:"):  # whole publishing sources go to test or train, never both
        return "test" if hashlib.sha256(w.encode()).digest()[0] % 10 < PUBLIC_TEST_SHARE else "train"
    if w in SPLITS["test_writers"]:
        return "test"
    if w in SPLITS["nonselling_test_writers"]:
        return "nonselling_test"
    if w in SPLITS["calib_writers"]:
        return "calib"
    return "train"


def _read(path: Path, default_writer: str | None = None) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            parse_item(line)  # validates labels, text, segments
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from None
        obj = json.loads(line)
        obj.setdefault("writer", default_writer)
        labels = obj.get("labels", [])
        redundant = {SUBSUMES[k] for k in labels if k in SUBSUMES}
        obj["labels"] = [lab for lab in labels if lab not in redundant]
        rows.append(obj)
    return rows


def load_corpus(root: Path = CORPUS_DIR) -> list[dict]:
    """Every raw item of writers/, sources/ and noise/ (dicts, with `writer`)."""
    from asr.metrics import wer

    rows: list[dict] = []
    for sub in ("writers", "sources", "noise"):
        for path in sorted((root / sub).glob("*.jsonl")):
            got = _read(path, default_writer=path.stem)
            if sub == "sources" and path.stem.endswith(TRAIN_ONLY_SUFFIX):
                for r in got:
                    r["train_only"] = True
            rows += got
    hashed = {r.get("writer") for r in rows if r.get("writer", "").startswith("public:") and not r.get("train_only")}
    both = sorted({r.get("writer") for r in rows if r.get("train_only")} & hashed)
    if both:
        raise ValueError(f"source groups both in a train-only file and in another source file: {both[:5]}")
    return [r for r in rows if "orig_text" not in r or wer([r["orig_text"]], [r["text"]]) <= MAX_ASR_WER]


def _near_sound_variants(rows: list[dict], seed: int = NOISE_SEED) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for r in rows:
        if r.get("lang") != "zh" or r.get("kind") in ("asr_noised",) or rng.random() >= NOISE_SHARE:
            continue
        text = zh_asr_variant(r["text"], rng)
        if text and text != r["text"]:
            out.append({**{k: v for k, v in r.items() if k != "segments"}, "text": text, "kind": "asr_noised",
                        "noise": "zh-near-sound", "orig_kind": r.get("kind")})
    return out


def build(root: Path = CORPUS_DIR, out: Path | None = None) -> dict:
    """Write the splits; returns the summary (counts per split, writer, kind, label)."""
    out = out or root / "splits"
    rows = load_corpus(root)
    # The non-selling test writer gets its variants from a stream of its own, so adding it left the
    # other splits (and the model built from them) as they were.
    nonselling = [split_of(r.get("writer")) == "nonselling_test" for r in rows]
    own = [r for r, ns in zip(rows, nonselling) if not ns and r.get("writer", "").startswith(("w", "t"))]
    rows += _near_sound_variants(own) + _near_sound_variants([r for r, ns in zip(rows, nonselling) if ns],
                                                             NOISE_SEED + 1)
    splits: dict[str, list[dict]] = {"train": [], "calib": [], "test": [], "nonselling_test": []}
    for r in rows:
        splits["train" if r.get("train_only") else split_of(r.get("writer"))].append(r)
    template_calib = _template_calib_keys(TEMPLATE_DIR / "train.jsonl")
    for name in ("train.jsonl", "test.jsonl"):
        for r in _read(TEMPLATE_DIR / name, default_writer="template"):
            r = {**r, "writer": "template", "source": f"claims/data/dataset/{name}"}
            split = "template_test" if name == "test.jsonl" else (
                "calib" if r.get("template") in template_calib else "train")
            splits.setdefault(split, []).append(r)
    held = {r["text"].strip() for name in ("test", "template_test", "nonselling_test") for r in splits[name]}
    dropped = 0
    for name in ("train", "calib"):
        keep = [r for r in splits[name] if r["text"].strip() not in held]
        dropped += len(splits[name]) - len(keep)
        splits[name] = keep
    out.mkdir(parents=True, exist_ok=True)
    summary = {"dropped_as_in_test": dropped, "splits": {}}
    for name, items in splits.items():
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                                                   for r in items), encoding="utf-8")
        summary["splits"][name] = {
            "items": len(items),
            "unlabelled": sum(1 for r in items if not r.get("labels")),
            "writers": dict(sorted(Counter(r.get("writer") for r in items).items())),
            "kinds": dict(sorted(Counter(r.get("kind") for r in items).items())),
            "langs": dict(sorted(Counter(r.get("lang") for r in items).items())),
            "labels": dict(sorted(Counter(lab for r in items for lab in r.get("labels", [])).items())),
        }
    summary["sha256"] = corpus_sha256(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary


def _template_calib_keys(path: Path) -> set[str]:
    """Whole templates of the template set's train split held out for calibration (seeded)."""
    keys = sorted({json.loads(line).get("template") or "" for line in path.read_text(encoding="utf-8").splitlines()
                   if line.strip()} - {""})
    random.Random(NOISE_SEED).shuffle(keys)
    return set(keys[:round(len(keys) * TEMPLATE_CALIB_SHARE)])


def corpus_sha256(build_dir: Path = BUILD_DIR) -> str:
    """One hash over the built train and calib files: what the model is trained from."""
    h = hashlib.sha256()
    for name in ("train.jsonl", "calib.jsonl"):
        h.update((build_dir / name).read_bytes())
    return h.hexdigest()


def items(split: str, build_dir: Path = BUILD_DIR) -> list[EvalItem]:
    from .evaluate import load_items

    return load_items(build_dir / f"{split}.jsonl")
