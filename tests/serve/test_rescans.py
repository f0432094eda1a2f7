"""Re-scan jobs: submitted over the API, run in the background, flags out; paths outside the roots refused."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from asr.types import Segment
from pipeline.findings import Finding
from pipeline.scan import FileScan
from serve.app import create_app
from serve.rescans import RescanWorker
from serve.tables import RescanJob
from tests.serve.conftest import auth


def fake_scanner(path: Path) -> FileScan:
    """Stands in for Whisper: every file 'says' one medical claim."""
    data = path.read_bytes()
    if data.startswith(b"BAD"):
        return FileScan(source=str(path), errors=[f"{path}: not a media file"])
    seg = Segment(stream_id=str(path), t0=1.0, t1=3.0, text="This tea cures diabetes.", lang="en", avg_logprob=-0.1,
                  no_speech_prob=0.0, compression_ratio=1.0, model_id="fake")
    f = Finding(source=str(path), t0=1.0, t1=3.0, label="medical_claim_non_drug", score=0.9, evidence="cures diabetes",
                decided_by="rule:x@1", legal_basis="Advertising Law Art. 17, 28", severity="high",
                segment_text=seg.text, lang="en", asr_model="fake")
    return FileScan(source=str(path), sha256=hashlib.sha256(data).hexdigest(), segments=[seg], findings=[f])


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "recordings"
    (r / "day1").mkdir(parents=True)
    (r / "day1" / "a.mp4").write_bytes(b"recording a")
    (r / "day1" / "b.flv").write_bytes(b"recording b")
    (r / "broken.mp4").write_bytes(b"BAD")
    return r


@pytest.fixture
def rclient(settings, engine, root):
    app = create_app(settings.model_copy(update={"rescan_roots": [root]}), engine=engine, scanner=fake_scanner)
    with TestClient(app) as c:
        yield c


def _wait_done(c, job_id, h):
    deadline = time.monotonic() + 15
    while (job := c.get(f"/rescans/{job_id}", headers=h).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job


def test_rescan_job_progress_and_flags(rclient, keys, root):
    h = auth(keys["ingest"])
    r = rclient.post("/rescans", json={"paths": ["day1", str(root / "broken.mp4")]}, headers=h)
    assert r.status_code == 202, r.text
    job = _wait_done(rclient, r.json()["id"], h)
    assert job["status"] == "done" and job["total"] == 3 and job["done"] == 3
    by_name = {Path(x["path"]).name: x for x in job["results"]}
    assert by_name["a.mp4"]["ok"] and len(by_name["a.mp4"]["flags"]) == 1
    assert not by_name["broken.mp4"]["ok"] and "not a media file" in by_name["broken.mp4"]["errors"][0]
    queue = rclient.get("/flags", headers=auth(keys["moderator"])).json()["data"]
    assert len(queue) == 2 and {f["label"] for f in queue} == {"medical_claim_non_drug"}


@pytest.mark.parametrize("bad", ["../../../../etc/passwd", "/etc/passwd", "day1/../../outside.mp4", "nope.mp4"])
def test_paths_outside_the_roots_are_refused(rclient, keys, root, bad):
    (root.parent / "outside.mp4").write_bytes(b"x")
    r = rclient.post("/rescans", json={"paths": [bad]}, headers=auth(keys["ingest"]))
    assert (r.status_code, "outside the configured rescan roots" in r.text or "does not exist" in r.text) in {(403, True),
                                                                                                          (404, True)}, r.text
    assert (r.status_code == 404) == (bad == "nope.mp4")


def test_symlink_out_of_the_root_is_refused(rclient, keys, root):
    (root / "link.mp4").symlink_to("/etc/hostname")
    r = rclient.post("/rescans", json={"paths": ["link.mp4"]}, headers=auth(keys["ingest"]))
    assert r.status_code == 403 and "outside the configured rescan roots" in r.text


def test_queued_jobs_survive_a_restart(settings, sessions, root):
    with sessions() as s:
        s.add(RescanJob(paths=[str(root / "day1" / "a.mp4")], total=1, created_by="before-crash", results=[]))
        s.commit()
    w = RescanWorker(sessions, settings, fake_scanner)
    w.start()
    deadline = time.monotonic() + 10
    while True:
        with sessions() as s:
            job = s.query(RescanJob).one()
            if job.status == "done":
                break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    w.stop()
    assert job.done == 1 and job.results[0]["flags"]
