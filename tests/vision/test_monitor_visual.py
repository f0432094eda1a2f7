"""The visual check inside `liveguard monitor`: each stream's faces against the gallery, in a Ray
actor per stream, with the stream's own account; findings get clips like spoken ones."""

import json

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ingest.decode import probe
from liveguard.cli import main
from serve.tables import FindingRow, Recording

pytestmark = pytest.mark.realtime  # wall-clock deadlines: run alone, not beside other tests (Makefile)

ray = pytest.importorskip("ray")


def test_monitor_flags_a_protected_face_only_on_the_unauthorised_stream(astronaut_png, impostor_video, gallery_path,
                                                                      tiny_whisper_path, tmp_path, capsys):
    assert main(["gallery", "--gallery", str(gallery_path), "add", "--name", "Famous Anchor",
                 "--image", str(astronaut_png), "--authorised-account", "anchor_official"]) == 0
    out = tmp_path / "records.jsonl"
    try:
        # the same recording, played live on two accounts: only the unauthorised one is flagged
        assert main(["monitor", str(impostor_video), str(impostor_video), "--stream-id", "impostor", "own",
                     "--account", "cheap_goods_888", "anchor_official", "--gallery", str(gallery_path),
                     "--model", str(tiny_whisper_path), "--workdir", str(tmp_path / "work"), "--out", str(out),
                     "--duration", "60", "--clip-before", "1", "--clip-after", "1", "-q",
                     "--db", f"sqlite:///{tmp_path / 'live.sqlite'}"]) == 0
    finally:
        ray.shutdown()
    capsys.readouterr()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    flagged = [r for r in records if r["type"] == "finding" and r["label"] == "ai_impersonation"]
    assert [r["source"] for r in flagged] == ["impostor"], records
    assert "Famous Anchor" in flagged[0]["evidence"] and flagged[0]["decided_by"].startswith("face:")
    assert 0 <= flagged[0]["t0"] < flagged[0]["t1"] <= 5.5
    clips = [r for r in records if r["type"] == "clip" and r["source"] == "impostor"]
    assert clips, [r for r in records if r["type"] == "error"]
    info = probe(clips[0]["path"])
    assert info.has_video and info.duration_s > 1
    assert {r["source"] for r in records if r["type"] == "stream_ended"} == {"impostor", "own"}
    # the same finding is in the database, under the impostor stream's recording row
    with Session(create_engine(f"sqlite:///{tmp_path / 'live.sqlite'}")) as s:
        rows = s.execute(select(FindingRow.label, Recording.path).join(Recording)).all()
    assert [(label, path) for label, path in rows] == [("ai_impersonation", str(impostor_video))]
