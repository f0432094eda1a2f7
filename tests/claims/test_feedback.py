"""Moderators' decisions as claims data: `claims train|eval --from-db`."""
from __future__ import annotations

from sqlalchemy import select, update

from claims import CombinedDetector, RuleDetector
from liveguard.claims_feedback import drift_report, feedback_items, format_drift
from serve import make_engine, make_sessionmaker
from serve.crud import flags_from_recording
from serve.tables import Flag, Recording
from tests.serve.builders import scanned_recording


def _decided_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    sessions = make_sessionmaker(make_engine(url))
    rec = scanned_recording(sessions)
    with sessions() as s:
        flags_from_recording(s, s.get(Recording, rec.id))
        s.commit()
    with sessions() as s:
        flags = {f.label: f.id for f in s.scalars(select(Flag))}
        s.execute(update(Flag).where(Flag.id == flags["medical_claim_non_drug"]).values(status="confirmed"))
        s.execute(update(Flag).where(Flag.id == flags["absolute_terms"]).values(status="dismissed"))
        s.commit()  # efficacy_guarantee stays open: not used
    return url


def test_confirmed_flags_are_positives_and_dismissed_ones_hard_negatives(tmp_path):
    items = {it.text: it for it in feedback_items(_decided_db(tmp_path))}
    assert set(items) == {"This cure your diabetes.", "This best serum in the world."}
    assert items["This cure your diabetes."].labels == {"medical_claim_non_drug"}
    assert items["This best serum in the world."].labels == frozenset()
    assert items["This best serum in the world."].kind == "moderator_dismissed"


def test_drift_report_compares_todays_detector_with_the_decisions(tmp_path):
    rep = drift_report(_decided_db(tmp_path), CombinedDetector(RuleDetector()))
    assert rep["decisions"] == 2
    overall = rep["overall"]
    assert (overall["confirmed"], overall["dismissed"]) == (1, 1) and overall["moderator_confirm_rate"] == 0.5
    assert overall["recall_on_confirmed"] == 1.0  # the rules still find "cure your diabetes"
    assert overall["still_flagged_dismissed"] == 1.0  # and still call "best serum in the world" absolute
    assert "all" in format_drift(rep)


def test_an_unreadable_database_is_a_clear_error(tmp_path):
    import pytest

    from liveguard.errors import ConfigError

    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="moderators"):
        feedback_items(f"sqlite:///{bad}")


def test_cli_eval_from_db_and_train_needs_an_output_dir(tmp_path, capsys):
    from liveguard.cli import main

    url = _decided_db(tmp_path)
    assert main(["claims", "eval", "--from-db", url, "--detector", "rules"]) == 0
    out = capsys.readouterr().out
    assert "moderators' decisions: 2" in out and "all" in out
    assert main(["claims", "train", "--from-db", url]) == 1  # the cached default is not overwritten
    assert "--out" in capsys.readouterr().err
