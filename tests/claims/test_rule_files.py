import textwrap

import pytest

from claims import RuleFileError, RuleSet
from claims.rules import load_rule_file

GOOD_RULE = """
[[rule]]
id = "t.ok"
label = "fake_price"
lang = "zh"
patterns = ['最低价']
score = 0.5
"""


def _write(tmp_path, body, name="rules.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _err(tmp_path, body):
    path = _write(tmp_path, 'version = "t1"\n' + body)
    with pytest.raises(RuleFileError) as exc:
        load_rule_file(path)
    msg = str(exc.value)
    assert "rules.toml" in msg
    return msg


def test_good_file_and_decided_by(tmp_path):
    path = _write(tmp_path, 'version = "t1"\n' + GOOD_RULE)
    rs = RuleSet.from_files([path])
    (hit,) = rs.detect("全网最低价")
    assert hit.decided_by == "rule:t.ok@t1"
    assert hit.legal_basis.startswith("price-fraud")


def test_unknown_label(tmp_path):
    msg = _err(tmp_path, GOOD_RULE + GOOD_RULE.replace("t.ok", "t.badlabel").replace("fake_price", "fake_prize"))
    assert "t.badlabel" in msg and "fake_prize" in msg
    assert "rules.toml:11:" in msg  # line of the offending `id = ...`


def test_bad_regex(tmp_path):
    msg = _err(tmp_path, GOOD_RULE.replace("'最低价'", "'最低(价'"))
    assert "t.ok" in msg and "regex" in msg


def test_duplicate_id(tmp_path):
    msg = _err(tmp_path, GOOD_RULE + GOOD_RULE)
    assert "t.ok" in msg and "duplicate" in msg


def test_duplicate_id_across_files(tmp_path):
    a = _write(tmp_path, 'version = "1"\n' + GOOD_RULE, "a.toml")
    b = _write(tmp_path, 'version = "1"\n' + GOOD_RULE, "b.toml")
    with pytest.raises(RuleFileError, match="t.ok"):
        RuleSet.from_files([a, b])


@pytest.mark.parametrize("old, new, needle", [
    ("score = 0.5", "score = 1.5", "score"),
    ("score = 0.5", "", "missing"),
    ('lang = "zh"', 'lang = "fr"', "lang"),
    ("score = 0.5", "score = 0.5\ncolour = 1", "unknown key"),
    ("'最低价'", "'${NOPE}'", "undefined macro"),
])
def test_field_validation(tmp_path, old, new, needle):
    msg = _err(tmp_path, GOOD_RULE.replace(old, new))
    assert needle in msg and "t.ok" in msg


def test_missing_version_and_toml_syntax(tmp_path):
    path = _write(tmp_path, GOOD_RULE)
    with pytest.raises(RuleFileError, match="version"):
        load_rule_file(path)
    path = _write(tmp_path, 'version = "1"\n[[rule]\nid = ')
    with pytest.raises(RuleFileError, match="rules.toml"):
        load_rule_file(path)


def test_rule_file_error_is_value_error():
    assert issubclass(RuleFileError, ValueError)


def test_default_rules_load_and_cover_labels():
    rs = RuleSet.load_default()
    required = {"absolute_terms", "medical_claim_non_drug", "health_food_overclaim",
                "efficacy_guarantee", "fake_price", "fake_scarcity", "fake_social_proof",
                "false_authority_identity", "off_platform_diversion", "investment_guarantee"}
    for lang in ("zh", "en"):
        labels = {r.label for r in rs.rules if r.lang == lang}
        assert required <= labels, (lang, required - labels)
