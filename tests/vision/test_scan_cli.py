"""Impersonation inside `liveguard scan`: a gallery enrolled by the CLI, the report and the database."""

import json

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from liveguard.cli import main
from serve.tables import FindingRow


def _scan(video, gallery, account, tmp_path, name):
    report = tmp_path / f"{name}.jsonl"
    db = f"sqlite:///{tmp_path / (name + '.sqlite')}"
    assert main(["scan", str(video), "--gallery", str(gallery), "--account", account, "--out", str(report),
                 "--db", db, "-q"]) == 0
    records = [json.loads(line) for line in report.read_text().splitlines()]
    return [r for r in records if r["type"] == "finding" and r["label"] == "ai_impersonation"], db


def test_scan_flags_a_protected_face_on_an_unauthorised_account(astronaut_png, impostor_video, other_face_video,
                                                               gallery_path, tmp_path, capsys):
    assert main(["gallery", "--gallery", str(gallery_path), "add", "--name", "Famous Anchor",
                 "--image", str(astronaut_png), "--authorised-account", "anchor_official"]) == 0
    capsys.readouterr()

    flagged, db = _scan(impostor_video, gallery_path, "cheap_goods_888", tmp_path, "impostor")
    assert len(flagged) == 1, flagged
    assert "Famous Anchor" in flagged[0]["evidence"] and flagged[0]["decided_by"].startswith("face:")
    with Session(create_engine(db)) as s:
        assert [r.label for r in s.scalars(select(FindingRow))] == ["ai_impersonation"]

    assert _scan(impostor_video, gallery_path, "anchor_official", tmp_path, "authorised")[0] == []
    assert _scan(other_face_video, gallery_path, "cheap_goods_888", tmp_path, "other")[0] == []
