"""A batch re-scan reaches the blacklist: `scan --streamer/--platform/--account` and `--manifest`
attribute each recording, its flags carry the streamer and an evidence clip, and confirming one
through the API gives a sanction (real Whisper base on espeak-ng speech, rules for claims)."""

import json

import pytest
from sqlalchemy import select

from ingest.decode import probe
from liveguard.cli import main
from serve.tables import Flag, PlatformAccount, Recording, Streamer
from tests.serve.conftest import auth
from tests.utils.media import assemble, make_recording

CURE = "This tea will cure your diabetes."
BEST = "It is the best serum in the world."


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rooms")
    out = {}
    for name, claim in (("tea", CURE), ("serum", BEST)):
        audio, _ = assemble([1.0, "Welcome to the live room.", 1.0, claim, 2.0], tmp)
        out[name] = make_recording(tmp / f"{name}.mp4", audio)
    return out


def _scan(*args) -> int:
    return main(["scan", *map(str, args), "--claims", "rules", "-q"])


def test_an_attributed_scan_confirmed_through_the_api_gives_a_sanction(rooms, db_url, sessions, client, keys,
                                                                       tmp_path):
    clips = tmp_path / "evidence"
    assert _scan(rooms["tea"], "--db", db_url, "--streamer", "Ann Li", "--platform", "douyin", "--account",
                 "ann01", "--clips", clips) == 0
    with sessions() as s:
        (flag,) = s.scalars(select(Flag).where(Flag.label == "medical_claim_non_drug")).all()
        streamer = s.get(Streamer, flag.streamer_id)
        assert streamer.display_name == "Ann Li" and flag.platform == "douyin" and flag.stream_id is not None
        assert s.scalar(select(PlatformAccount).where(PlatformAccount.account_id == "ann01")).streamer_id == streamer.id
        info = probe(flag.clip_path)  # the evidence clip: cut from the recording around the claim
        assert flag.clip_path.startswith(str(clips)) and info.has_audio and 3 < info.duration_s < 12
        flag_id, streamer_id = flag.id, streamer.id
    r = client.post(f"/flags/{flag_id}/decision", json={"decision": "confirm", "reason": "cure claim for tea"},
                    headers=auth(keys["moderator"]))
    assert r.status_code == 200, r.text
    assert [x["flag_id"] for x in r.json()["sanctions"]] == [flag_id]
    history = client.get(f"/streamers/{streamer_id}/history", headers=auth(keys["regulator"])).json()
    assert [x["flag_id"] for x in history["sanctions"]] == [flag_id]
    # scanning again (same file, same streamer found by its account) adds nothing
    assert _scan(rooms["tea"], "--db", db_url, "--streamer", "Ann", "--platform", "douyin", "--account", "ann01",
                 "--clips", clips) == 0
    with sessions() as s:
        assert len(s.scalars(select(Flag)).all()) == 1 and len(s.scalars(select(Streamer)).all()) == 1


def test_a_manifest_attributes_each_room_of_a_batch(rooms, db_url, sessions, tmp_path):
    manifest = tmp_path / "rooms.csv"
    manifest.write_text("path,streamer,platform,account,recorded_at\n"
                        f"{rooms['tea']},Ann Li,douyin,ann01,2026-11-02T20:00:00+08:00\n"
                        f"{rooms['serum']},Bo Chen,kuaishou,,2026-11-03T21:30:00\n")
    assert _scan("--manifest", manifest, "--db", db_url, "--clips", tmp_path / "ev") == 0
    with sessions() as s:
        got = {(f.label, s.get(Streamer, f.streamer_id).display_name, f.platform) for f in s.scalars(select(Flag))}
        assert ("medical_claim_non_drug", "Ann Li", "douyin") in got
        assert ("absolute_terms", "Bo Chen", "kuaishou") in got
        assert all(f.clip_path for f in s.scalars(select(Flag)))
        when = {r.path.rsplit("/", 1)[-1]: r.recorded_at for r in s.scalars(select(Recording))}
        assert when["tea.mp4"].isoformat().startswith("2026-11-02T12:00:00")  # stored in UTC
        assert when["serum.mp4"].isoformat().startswith("2026-11-03T21:30:00")  # no zone given: UTC


@pytest.mark.parametrize("rows, message", [
    ([{"path": "missing.mp4", "streamer": "A", "platform": "douyin"}], "does not exist"),
    ([{"path": "tea.mp4", "streamer": "", "platform": "douyin"}], "needs a streamer"),
    ([{"path": "tea.mp4", "streamer": "A", "platform": "douyin", "room": "x"}], "unknown column"),
    ([{"path": "tea.mp4", "streamer": "A", "platform": "douyin", "recorded_at": "yesterday"}], "ISO 8601"),
])
def test_a_bad_manifest_is_refused_before_anything_is_scanned(rooms, tmp_path, capsys, rows, message):
    manifest = rooms["tea"].parent / "bad.json"
    manifest.write_text(json.dumps(rows))
    db = tmp_path / "lg.sqlite"
    assert _scan("--manifest", manifest, "--db", f"sqlite:///{db}") == 2
    assert message in capsys.readouterr().err and not db.exists()


def test_attribution_needs_the_database(rooms, capsys):
    assert _scan(rooms["tea"], "--db", "none", "--streamer", "A", "--platform", "douyin") == 2
    assert "--db" in capsys.readouterr().err
    assert _scan(rooms["tea"], "--db", "none", "--streamer", "A") == 2
    assert "go together" in capsys.readouterr().err
