"""The issue's "done when", in one run: scan a real recording (real Whisper base, espeak-ng
speech), see its flags in the queue page in Chromium, confirm one, watch the policy blacklist the
streamer, pull the entry as a regulator (JSON and CSV), verify the evidence chain, tamper one
byte of the stored clip and see `liveguard evidence verify` name the broken record."""

from __future__ import annotations

import csv
import io
import os
import shutil

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from claims import RuleDetector
from pipeline import scan_file
from serve.app import create_app
from serve.settings import SanctionPolicy
from serve.store import save_scan
from serve.tables import EvidenceRecord, Recording
from tests.serve.builders import streamer_with_stream
from tests.serve.conftest import auth
from tests.serve.test_evidence import cli
from tests.serve.test_review_page import CHROMIUM, browser, server  # noqa: F401 - fixtures
from tests.utils.media import assemble, make_recording

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("ffmpeg")),
                                 reason="needs espeak-ng and ffmpeg"),
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

SCRIPT = [1.5, "Welcome to my live room.", 1.0, "This tea will cure your diabetes.", 1.0]


@pytest.fixture
def app(settings, engine):  # one confirmed high flag is enough to blacklist, for the demo
    strict = settings.model_copy(update={"policy": SanctionPolicy(blacklist_after=1)})
    return create_app(strict, engine=engine, start_workers=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def test_scan_review_blacklist_export_verify_tamper(browser, server, client, keys, sessions, settings, db_url,  # noqa: F811
                                                    base_transcriber, tmp_path, capsys):
    audio, _ = assemble(SCRIPT, tmp_path)
    clip = make_recording(settings.clip_roots[0] / "room.mp4", audio)
    scan = scan_file(clip, base_transcriber, RuleDetector())
    assert scan.ok and any(f.label == "medical_claim_non_drug" for f in scan.findings), scan.segments
    with sessions() as s:
        save_scan(s, scan)
    with sessions() as s:
        rec_id = s.scalar(select(Recording.id))
    streamer_id, stream_id = streamer_with_stream(sessions)
    r = client.post("/flags/ingest", json={"recording_id": rec_id, "stream_id": stream_id, "clip_path": str(clip)},
                    headers=auth(keys["ingest"]))
    flag_id = r.json()["created"][0]

    page = browser.new_context().new_page()
    page.set_default_timeout(10_000)
    page.goto(server + "/ui/login")
    page.fill("#key", keys["moderator"])
    page.click("#signin")
    page.click(f'a[href="/ui/flags/{flag_id}"]')
    assert "diabetes" in page.locator("mark").first.inner_text().lower()
    page.fill("#reason", "medical claim for a tea")
    page.click("#confirm")
    page.wait_for_selector("#queue, #empty")
    page.context.close()

    reg = auth(keys["regulator"])
    entries = client.get("/blacklist", headers=reg).json()["data"]
    assert [e["streamer_id"] for e in entries] == [streamer_id] and "diabetes" in entries[0]["facts"].lower()
    export = client.get("/blacklist/export", headers=reg).json()
    rows = list(csv.DictReader(io.StringIO(client.get("/blacklist/export", params={"format": "csv"},
                                                      headers=reg).text)))
    assert rows[0]["chain_head"] == export["chain_head"] and export["chain_length"] == 1

    args = ["--db", db_url, "--evidence-dir", str(settings.evidence_dir)]
    assert cli(["evidence", "verify", *args]) == 0
    assert export["chain_head"] in capsys.readouterr().out  # the head the regulator received is the logged one
    with sessions() as s:
        stored = settings.evidence_dir / s.scalar(select(EvidenceRecord.clip_file))
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    assert cli(["evidence", "verify", *args]) == 1
    assert "BROKEN: record 1" in capsys.readouterr().out
