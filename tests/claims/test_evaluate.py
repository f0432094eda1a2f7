import json

import pytest

from claims.evaluate import evaluate, format_table, load_items, parse_item
from liveguard.errors import ConfigError


def test_hand_computed_two_labels():
    # item: gold / pred
    # 1: {a}    / {a}      a: tp
    # 2: {a,b}  / {b}      a: fn, b: tp
    # 3: {}     / {a}      a: fp  (unlabelled item with a prediction)
    # 4: {}     / {}       nothing
    # 5: {b}    / {a}      a: fp, b: fn
    gold = [{"a"}, {"a", "b"}, set(), set(), {"b"}]
    pred = [{"a"}, {"b"}, {"a"}, set(), {"a"}]
    r = evaluate(gold, pred, labels=["a", "b"], kinds=[None, None, "hard_negative", "negative", None])
    a, b = r.per_label
    assert (a.tp, a.fp, a.fn, a.support) == (1, 2, 1, 2)
    assert a.precision == pytest.approx(1 / 3) and a.recall == pytest.approx(0.5)
    assert a.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))  # 0.4
    assert (b.tp, b.fp, b.fn) == (1, 0, 1) and b.precision == 1.0 and b.recall == 0.5
    assert b.f1 == pytest.approx(2 / 3)
    # micro: tp 2, fp 2, fn 2
    assert r.micro_precision == pytest.approx(0.5) and r.micro_recall == pytest.approx(0.5)
    assert r.micro_f1 == pytest.approx(0.5)
    assert r.macro_f1 == pytest.approx((0.4 + 2 / 3) / 2)
    assert r.n_unlabelled == 2 and r.fpr_unlabelled == pytest.approx(0.5)
    assert r.fpr_by_kind == {"hard_negative": 1.0, "negative": 0.0}
    assert r.recall_by_kind == {}  # labelled items carry no kind here
    r = evaluate([{"a"}, {"a", "b"}], [{"a"}, {"b"}], labels=["a", "b"], kinds=["positive", "evasion"])
    assert r.recall_by_kind == {"evasion": 0.5, "positive": 1.0}


def test_edge_cases_zero_division():
    r = evaluate([set(), set()], [set(), set()], labels=["a"])
    assert r.micro_f1 == 0.0 and r.macro_f1 == 0.0 and r.fpr_unlabelled == 0.0
    (a,) = r.per_label
    assert a.precision == a.recall == a.f1 == 0.0
    # a label with no support does not enter the macro average
    r = evaluate([{"a"}], [{"a"}], labels=["a", "b"])
    assert r.macro_f1 == 1.0 and r.micro_f1 == 1.0


def test_length_mismatch():
    with pytest.raises(ValueError):
        evaluate([set()], [], labels=["a"])


def test_table_and_dict():
    r = evaluate([{"fake_price"}, set()], [{"fake_price"}, {"fake_price"}])
    table = format_table(r, "t")
    assert "fake_price" in table and "micro" in table and "FPR on unlabelled items: 1.000" in table
    d = r.to_dict()
    assert d["per_label"]["fake_price"]["precision"] == 0.5
    json.dumps(d)


@pytest.mark.parametrize("line, msg", [
    ("not json", "not JSON"),
    ("[1]", "object"),
    ('{"text": ""}', "non-empty"),
    ('{"text": "x", "labels": "fake_price"}', "list"),
    ('{"text": "x", "labels": ["fake_prize"]}', "unknown label"),
])
def test_parse_item_errors(line, msg):
    with pytest.raises(ValueError, match=msg):
        parse_item(line)


def test_load_items_names_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "a", "labels": []}\n\n{"text": 1}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"d.jsonl:3:"):
        load_items(p)
    with pytest.raises(ConfigError):
        load_items(tmp_path / "missing.jsonl")
