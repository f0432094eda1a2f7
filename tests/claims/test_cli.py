import argparse
import io
import json

import pytest

from liveguard.claims_cli import add_claims_parser, classify_stream
from liveguard.errors import LiveGuardError


def run_cli(argv, capsys, stdin=None, monkeypatch=None):
    """Parse with a parser carrying only `claims`, run, and catch LiveGuardError like liveguard.cli does."""
    p = argparse.ArgumentParser(prog="liveguard")
    add_claims_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        code = args.func(args)
    except LiveGuardError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=__import__("sys").stderr)
        code = 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_parser_shape():
    p = argparse.ArgumentParser()
    add_claims_parser(p.add_subparsers(dest="command"))
    for cmd in (["claims", "classify"], ["claims", "eval", "x.jsonl"], ["claims", "train"]):
        assert callable(p.parse_args(cmd).func)


def test_classify_stream_survives_bad_lines(capsys, monkeypatch):
    lines = [
        '{"text": "原价1999，今天只要99"}',
        "not json at all",
        '{"text": ""}',
        '{"text": "' + "很" * 1_000_000 + '"}',       # 1 MB on one line
        '{"text": "这块料子是天丝的", "listing": {"material": "100% cotton"}}',
        '{"text": "这块料子是天丝的", "listing": {"price": "cheap"}}',
        '{"text": "x", "lang": "fr"}',
        "[1, 2]",
        '{"text": "大家晚上好", "lang": "zh"}',
    ]
    code, out, err = run_cli(["claims", "classify", "--detector", "rules"], capsys, "\n".join(lines) + "\n", monkeypatch)
    assert code == 0 and "refused 6" in err
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == len(lines)
    assert rows[0]["labels"] == ["fake_price"] and rows[0]["decided_by"]["fake_price"].startswith("rule:")
    assert rows[0]["scores"]["fake_price"] > 0
    assert [r.get("line") for r in rows if "error" in r] == [2, 3, 4, 6, 7, 8]
    assert "not JSON" in rows[1]["error"] and "non-empty" in rows[2]["error"] and "characters" in rows[3]["error"]
    assert "price" in rows[5]["error"] and "lang" in rows[6]["error"]
    assert rows[4]["labels"] == ["claim_contradicts_listing"] and "evidence" in rows[4]
    assert rows[8] == {"text": "大家晚上好", "labels": [], "scores": {}, "decided_by": {}, "hits": []}


def test_classify_strict_exit(capsys, monkeypatch):
    code, _, _ = run_cli(["claims", "classify", "--detector", "rules", "--strict", "-q"], capsys, "oops\n", monkeypatch)
    assert code == 1


def test_classify_stream_batches_in_order():
    from claims import CombinedDetector, RuleDetector

    texts = [f'{{"text": "只剩最后{i}单"}}' if i % 3 else "bad" for i in range(1, 150)]
    out = io.StringIO()
    ok, bad = classify_stream(CombinedDetector(RuleDetector()), io.StringIO("\n".join(texts)), out)
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert ok + bad == len(texts) == len(rows)
    assert all(("error" in r) == (t == "bad") for r, t in zip(rows, texts))


def test_eval_table_and_json(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"text": "原价1999，今天只要99", "labels": ["fake_price"], "kind": "positive"},
        {"text": "有问题可以七天无理由退货", "labels": [], "kind": "hard_negative"},
        {"text": "这块料子是天丝的", "labels": ["claim_contradicts_listing"], "listing": {"material": "100% cotton"}},
    ]) + "\n", encoding="utf-8")
    code, out, _ = run_cli(["claims", "eval", str(data), "--detector", "rules"], capsys)
    assert code == 0 and "fake_price" in out and "micro" in out
    code, out, _ = run_cli(["claims", "eval", str(data), "--detector", "rules", "--json"], capsys)
    d = json.loads(out)
    assert d["micro"]["f1"] == 1.0 and d["fpr_unlabelled"] == 0.0 and d["fpr_by_kind"] == {"hard_negative": 0.0}


def test_eval_bad_file_is_config_error(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "labels": ["nope"]}\n', encoding="utf-8")
    code, _, err = run_cli(["claims", "eval", str(bad), "--detector", "rules"], capsys)
    assert code == 1 and "ConfigError" in err and "bad.jsonl:1" in err
    code, _, err = run_cli(["claims", "eval", str(tmp_path / "none.jsonl"), "--detector", "rules"], capsys)
    assert code == 1 and "ConfigError" in err


def test_bad_rules_file_is_config_error(tmp_path, capsys):
    rules = tmp_path / "r.toml"
    rules.write_text("version = 1\n", encoding="utf-8")
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a", "labels": []}\n', encoding="utf-8")
    code, _, err = run_cli(["claims", "eval", str(data), "--detector", "rules", "--rules", str(rules)], capsys)
    assert code == 1 and "r.toml" in err


def test_train_hf_needs_init(capsys):
    code, _, err = run_cli(["claims", "train", "--backend", "hf"], capsys)
    assert code == 1 and "--init" in err


def test_train_e5_head_cli(tmp_path, capsys, monkeypatch, char_embedder):
    """`claims train` end to end, with the fake embedder standing in for e5 (speed)."""
    monkeypatch.setattr("claims.classifier.E5Embedder", lambda: char_embedder)
    data = tmp_path / "t.jsonl"
    rows = [{"text": f"原价{1000 + i}今天只要九十九", "labels": ["fake_price"], "template": f"p{i % 4}"} for i in range(12)]
    rows += [{"text": f"大家晚上好{i}", "labels": [], "template": f"n{i % 4}"} for i in range(12)]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "head.npz"
    code, stdout, _ = run_cli(["claims", "train", "--backend", "e5-head", "--data", str(data), "--out", str(out),
                               "--epochs", "50"], capsys)
    assert code == 0 and out.is_file()
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["train_data"] == str(data) and len(side["train_data_sha256"]) == 64  # outside the checkout: as given
    assert "combined_thresholds" in side


def test_bench_claims_parser(capsys):
    from liveguard.claims_cli import add_claims_bench_parser

    p = argparse.ArgumentParser()
    add_claims_bench_parser(p.add_subparsers(dest="bench"))
    args = p.parse_args(["claims", "-n", "20", "--detector", "rules", "--json"])
    assert args.func(args) == 0
    (res,) = json.loads(capsys.readouterr().out)
    assert res["sentences"] == 20 and res["sentences_per_s"] > 0 and res["detector"] == "rules"


def test_classify_bad_utf8_is_a_line_error(tmp_path, capsys):
    data = tmp_path / "in.jsonl"
    data.write_bytes(b'{"text": "\xff\xfe"}\n{"text": "\xe5\x8e\x9f\xe4\xbb\xb71999\xef\xbc\x8c\xe4\xbb\x8a\xe5\xa4\xa999"}\n')
    code, out, err = run_cli(["claims", "classify", "--detector", "rules", "--input", str(data)], capsys)
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and "UTF-8" in rows[0]["error"] and rows[1]["labels"] == ["fake_price"]
