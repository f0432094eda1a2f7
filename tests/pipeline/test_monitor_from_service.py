"""`liveguard monitor --from-service`: the streams a moderator starts in the service (a real
`liveguard serve` on loopback) are watched within a poll, with their listing; a stream stopped in
the service is stopped in the monitor; live findings become flags that name the service's stream."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from liveguard.cli import main
from tests.serve.conftest import free_port
from tests.serve.test_serve_cli import RUN

pytestmark = pytest.mark.realtime  # wall-clock deadlines: run alone, not beside other tests (Makefile)

pytest.importorskip("ray")
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "live_room_en.mp4"


@pytest.fixture
def service(tmp_path):
    db = f"sqlite:///{tmp_path / 'svc.sqlite'}"
    token = subprocess.run([sys.executable, "-c", RUN, "keys", "create", "--role", "admin", "--name", "ops",
                            "--db", db], capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", RUN, "serve", "--port", str(port), "--db", db,
                             "--evidence-dir", str(tmp_path / "ev")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def api(method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
                time.sleep(0.2)
        yield base, token, api, tmp_path / "svc.sqlite", db
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


@pytest.mark.slow
def test_monitor_follows_the_streams_the_service_starts_and_stops(service, tmp_path, monkeypatch):
    base, token, api, db_file, db = service
    listing = {"category": "food", "title": "herbal tea"}
    watched = api("POST", "/streams", {"url": str(SAMPLE), "platform": "douyin", "listing": listing})
    stopped = api("POST", "/streams", {"url": str(SAMPLE), "platform": "douyin"})
    never = api("POST", "/streams", {"url": str(SAMPLE), "platform": "douyin"})  # registered, not started
    api("POST", f"/streams/{watched['id']}/start")
    api("POST", f"/streams/{stopped['id']}/start")
    monkeypatch.setenv("LIVEGUARD_API_KEY", token)
    out = tmp_path / "live.jsonl"
    quit_ = threading.Event()

    def stop_second_stream_once_watched() -> None:  # as a moderator would, a few seconds in
        deadline = time.monotonic() + 90
        while not quit_.is_set() and time.monotonic() < deadline:
            if out.exists() and f'"stream_started", "source": "stream-{stopped["id"]}"' in out.read_text():
                time.sleep(3.0)
                api("POST", f"/streams/{stopped['id']}/stop")
                return
            time.sleep(0.2)

    stopper = threading.Thread(target=stop_second_stream_once_watched)
    stopper.start()
    try:
        assert main(["monitor", "--from-service", base, "--db", db, "--out", str(out), "--workdir",
                     str(tmp_path / "work"), "--duration", "45", "--poll-s", "1", "--clip-before", "1",
                     "--clip-after", "1", "-q"]) == 0
    finally:
        quit_.set()
        stopper.join()
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    started = {r["source"]: r["service_id"] for r in recs if r["type"] == "stream_started"}
    assert started == {f"stream-{watched['id']}": watched["id"], f"stream-{stopped['id']}": stopped["id"]}
    assert f"stream-{never['id']}" not in {r["source"] for r in recs}
    ended = {r["source"]: r for r in recs if r["type"] == "stream_ended"}
    assert ended[f"stream-{stopped['id']}"]["reason"] == "stopped"
    assert ended[f"stream-{stopped['id']}"]["stream_t"] < 20  # stopped a poll after the service said so
    labels = {r["label"] for r in recs if r["type"] == "finding" and r["source"] == f"stream-{watched['id']}"}
    assert "medical_claim_non_drug" in labels, recs  # a cure claim for a product listed as food
    with sqlite3.connect(db_file) as con:
        flagged = con.execute("SELECT label, stream_id, platform, clip_path FROM flags").fetchall()
    assert ("medical_claim_non_drug", watched["id"], "douyin") in {f[:3] for f in flagged}
    assert all(f[3] and Path(f[3]).is_absolute() for f in flagged)


def test_a_service_that_cannot_be_asked_is_a_clear_error_at_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIVEGUARD_API_KEY", "lg_wrong")
    port = free_port()  # nothing listens there
    assert main(["monitor", "--from-service", f"http://127.0.0.1:{port}", "--db", "none", "-q"]) == 1
    assert "cannot list streams" in capsys.readouterr().err
    monkeypatch.delenv("LIVEGUARD_API_KEY")
    assert main(["monitor", "--from-service", f"http://127.0.0.1:{port}", "--db", "none", "-q"]) == 1
    assert "API key" in capsys.readouterr().err
