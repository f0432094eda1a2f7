"""Voices and ban evasion inside `liveguard scan`: voices enrolled by the CLI, a generated recording
with real speech, the report and the database; and a blacklisted face on a new account."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ingest.windows import WindowOptions, iter_file_windows
from liveguard.cli import main
from pipeline.impersonation import VisualChecker, VisualOptions, impersonation_findings
from pipeline.voices import VoiceChecker
from serve.tables import FindingRow
from tests.utils.media import write_wav
from tests.utils.voices import f5_voice, halves, join, librivox, speech_video
from vision.gallery import Gallery, enrol_face

IDENTITY = ("ai_impersonation", "ban_evasion")


@pytest.fixture(scope="module")
def voice_gallery(tmp_path_factory):
    """A protected reader (enrolled from LibriVox 0870) and a blacklisted streamer (first half of the
    f5 "town" voice), both through `liveguard gallery add --voice`."""
    d = tmp_path_factory.mktemp("voice_gallery")
    reader = write_wav(d / "reader_0870.wav", librivox("0870"))
    banned = write_wav(d / "banned_town.wav", halves(f5_voice("f5-town"))[0])
    path = d / "gallery.json"
    assert main(["gallery", "--gallery", str(path), "add", "--name", "Famous Reader", "--voice", str(reader),
                 "--authorised-account", "reader_official"]) == 0
    assert main(["gallery", "--gallery", str(path), "add", "--name", "Banned Seller", "--voice", str(banned),
                 "--kind", "blacklisted", "--authorised-account", "banned_shop_1"]) == 0
    return path


@pytest.fixture(scope="module")
def two_voices_video(tmp_path_factory):
    """Other sentences of the reader (0-~15 s), a pause, then the other half of the banned voice."""
    audio = join(0.5, librivox("0890"), 0.4, librivox("0920"), 0.4, librivox("0930"), 3.0,
                 halves(f5_voice("f5-town"))[1], 0.5)
    return speech_video(audio, tmp_path_factory.mktemp("voice_media") / "two_voices.mp4")


def _scan(video, gallery, account, tmp_path, name):
    report = tmp_path / f"{name}.jsonl"
    db = f"sqlite:///{tmp_path / (name + '.sqlite')}"
    assert main(["scan", str(video), "--gallery", str(gallery), "--account", account, "--out", str(report),
                 "--db", db, "--language", "en", "-q"]) == 0
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert not [r for r in records if r["type"] == "error"], records
    return [r for r in records if r["type"] == "finding" and r["label"] in IDENTITY], db


def test_gallery_add_voice_enrols_prints(voice_gallery, capsys, tmp_path):
    g = Gallery.open(voice_gallery)
    assert g.voice_model and g.voice_model.startswith("resemblyzer@")
    assert [(e.name, e.kind, len(e.voice_prints), len(e.face_prints)) for e in g] == [
        ("Famous Reader", "protected", 1, 0), ("Banned Seller", "blacklisted", 1, 0)]
    silent = write_wav(tmp_path / "silence.wav", join(4.0))
    assert main(["gallery", "--gallery", str(voice_gallery), "add", "--name", "X", "--voice", str(silent)]) == 1
    assert "speech" in capsys.readouterr().err
    assert main(["gallery", "--gallery", str(voice_gallery), "add", "--name", "X"]) == 1  # neither --image nor --voice
    assert len(Gallery.open(voice_gallery)) == 2


def test_scan_flags_a_protected_voice_and_a_blacklisted_streamer(voice_gallery, two_voices_video, tmp_path):
    found, db = _scan(two_voices_video, voice_gallery, "cheap_goods_888", tmp_path, "unauthorised")
    assert [r["label"] for r in found] == ["ai_impersonation", "ban_evasion"], found
    reader, banned = found
    assert reader["decided_by"].startswith("voice:resemblyzer@") and "Famous Reader" in reader["evidence"]
    assert reader["t0"] < 1.5 and 12.0 < reader["t1"] < 16.5 and "similarity" in reader["evidence"]
    assert banned["decided_by"].startswith("voice:") and "Banned Seller" in banned["evidence"]
    assert banned["t0"] > 16.0 and "banned_shop_1" in banned["evidence"] and "cheap_goods_888" in banned["evidence"]
    with Session(create_engine(db)) as s:
        assert sorted(r.label for r in s.scalars(select(FindingRow)) if r.label in IDENTITY) == list(IDENTITY)


def test_same_recording_on_the_authorised_and_the_banned_accounts(voice_gallery, two_voices_video):
    """The scan's checker on the same windows (without Whisper, which the test above already ran)."""
    gallery = Gallery.open(voice_gallery)
    windows = list(iter_file_windows(two_voices_video))

    def labels(account):
        checker = VisualChecker(str(two_voices_video), account, gallery, opts=VisualOptions(ocr=None),
                                voices=VoiceChecker(str(two_voices_video), account, gallery))
        return [f.label for w in windows for f in checker.feed(w)] + [f.label for f in checker.finish()]

    # the reader's own account: no impersonation, but the banned streamer is still on a foreign account
    assert labels("Reader_Official") == ["ban_evasion"]
    # the banned streamer's known account: the ban itself is the platform's business, not evasion
    assert labels("banned_shop_1") == ["ai_impersonation"]
    assert labels("someone_else") == ["ai_impersonation", "ban_evasion"]


def test_blacklisted_face_on_a_new_account_is_ban_evasion(analyzer, impostor_video):
    g = Gallery()
    from skimage import data

    g.add("Banned Anchor", face_prints=enrol_face(analyzer, data.astronaut()), kind="blacklisted",
          authorised_accounts=["old_shop"])
    windows = list(iter_file_windows(impostor_video, opts=WindowOptions(max_s=2.0, min_s=1.0)))
    found = impersonation_findings(windows, "fresh_shop_2", g, analyzer=analyzer)
    assert [f.label for f in found] == ["ban_evasion"]
    f = found[0]
    assert f.decided_by.startswith("face:") and "Banned Anchor" in f.evidence and "old_shop" in f.evidence
    assert f.t1 - f.t0 > 3.0 and f.severity == "high"
    assert impersonation_findings(windows, "OLD_SHOP", g, analyzer=analyzer) == []
