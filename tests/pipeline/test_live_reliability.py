"""Live monitoring the way it fails in the field, on loopback servers with the real Whisper base:
a source that stalls and leaves its playlist, a URL that is dead, and the monitor killed with -9
and restarted on the same working directory and database."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.decode import probe
from ingest.live import LiveOptions
from pipeline.live import MonitorOptions
from tests.utils.media import assemble, make_recording, run
from tests.utils.servers import free_port, hls_server

pytestmark = pytest.mark.realtime  # wall-clock deadlines: run alone, not beside other tests (Makefile)

ray = pytest.importorskip("ray")

CLAIM = "This tea will cure your diabetes."
SCRIPT = [1.0, "Hello everyone, welcome to the live room.", 1.0, CLAIM, 3.0, "Thank you for joining us today.",
          1.0, "It is the best serum in the world.", 2.0]
LIVEGUARD = str(Path(sys.executable).parent / "liveguard")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """The script as an FLV with a keyframe every second (segments and clips can start anywhere)."""
    tmp = tmp_path_factory.mktemp("reliability")
    audio, placed = assemble(SCRIPT, tmp)
    mp4 = make_recording(tmp / "room.mp4", audio)
    flv = tmp / "room.flv"
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(mp4), "-c:v", "libx264", "-g", "10",
         "-c:a", "aac", "-f", "flv", str(flv)])
    twice = tmp / "room2.flv"  # the show twice: the claim is spoken at two known times
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "1", "-i", str(flv), "-c", "copy",
         str(twice)])
    return flv, twice, placed


@pytest.fixture(scope="module")
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def stopped_at(playlist: Path) -> float:
    return playlist.stat().st_mtime  # the encoder's last write


def test_stalled_hls_reports_each_claim_once_and_ends_by_itself(room, ray_local, tmp_path):
    from pipeline.ray_monitor import RayMonitor, StreamSpec

    flv, _, _ = room
    records, lock = [], threading.Lock()

    def on_record(rec):
        with lock:
            records.append(rec)

    opts = MonitorOptions(window_max_s=6, window_min_s=3, clip_before_s=2, clip_after_s=2,
                          live=LiveOptions(read_timeout_s=2, backoff_initial_s=0.3, backoff_max_s=1,
                                           give_up_after_s=5, hls_start_segments=100))
    mon = RayMonitor([], tmp_path / "work", opts, on_record=on_record)
    mon.start()  # the model loads first, so the stream is joined from its start
    try:
        with hls_server(flv, tmp_path / "hls", list_size=30) as (url, proc):
            mon.add_stream(StreamSpec("hls", url))
            # the encoder reaches the end of the show and exits: the playlist stays, with no ENDLIST
            mon.run(duration_s=120, status_every_s=0.5)
            took = time.time() - proc.wait(timeout=5) - stopped_at(tmp_path / "hls" / "live.m3u8")
    finally:
        mon.stop()
    ended = [r for r in records if r["type"] == "stream_ended"]
    assert ended and "stalled" in ended[0]["reason"], records
    assert took < 60, "the monitor should exit by itself soon after --give-up"
    findings = [r for r in records if r["type"] == "finding"]
    medical = [f for f in findings if f["label"] == "medical_claim_non_drug"]
    assert len(medical) == 1, [(r["type"], r.get("t0"), r.get("text") or r.get("message") or r.get("label"))
                               for r in records]
    assert len([f for f in findings if f["label"] == "absolute_terms"]) <= 1
    clips = [r for r in records if r["type"] == "clip"]
    assert len(clips) == len(findings) and all(Path(c["path"]).exists() for c in clips)
    assert all(r.get("delay_s") is None or r["delay_s"] >= 0 for r in findings)


def test_dead_url_reports_an_error_while_failing_and_exits_nonzero(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/live/nothing.m3u8"
    proc = subprocess.run([LIVEGUARD, "monitor", url, "--give-up", "3", "--db", "none", "--claims", "rules",
                           "--workdir", str(tmp_path / "w"), "--out", str(tmp_path / "out.jsonl"), "-q",
                           "--duration", "120"], capture_output=True, text=True, timeout=240)
    records = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [r for r in records if r["type"] == "error"]
    kinds = [r["type"] for r in records]
    assert errors and kinds.index("error") < kinds.index("stream_ended")  # said while failing, not only at the end
    assert "gives up in" in errors[0]["message"] and "127.0.0.1" in errors[0]["message"]
    assert any("nothing was received" in e["message"] for e in errors)
    assert "no stream delivered anything" in proc.stderr


def _records(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # the line a kill -9 tore
            pass
    return out


def _monitor_cmd(url: str, work: Path, db: Path, out: Path, clip_after: float, duration: float) -> list[str]:
    """The monitor as the kill -9 tests run it: one HLS room from its oldest segment, SQLite, --out."""
    return [LIVEGUARD, "monitor", url, "--stream-id", "room", "--give-up", "5", "--db", f"sqlite:///{db}",
            "--claims", "rules", "--workdir", str(work), "--out", str(out), "-q", "--window-s", "6",
            "--clip-before", "2", "--clip-after", str(clip_after), "--duration", str(duration), "--hls-start", "1000"]


def test_kill_9_and_restart_on_the_same_state_loses_and_duplicates_nothing(room, tmp_path):
    _, twice, placed = room
    claim_t = [p.t0 for p in placed if p.text == CLAIM][0]
    work, db, out = tmp_path / "work", tmp_path / "lg.sqlite", tmp_path / "out.jsonl"
    with hls_server(twice, tmp_path / "hls", list_size=120) as (url, src):
        cmd = _monitor_cmd(url, work, db, out, clip_after=6, duration=150)
        first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while time.time() < deadline and not (out.exists() and any(
                r["type"] == "finding" for r in _records(out))):
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)  # the finding's clip (6 s after the claim) is still owed
        first.wait()
        first.stderr.close()
        before = _records(out)
        assert any(r["type"] == "finding" for r in before), "no finding before the kill"
        runs_before = {p.name.split("_s")[0] for p in (work / "room" / "recording").glob("*.ts")}
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    records = _records(out)
    findings = [r for r in records if r["type"] == "finding" and r["label"] == "medical_claim_non_drug"]
    # the claim was spoken twice (show played twice, ~17 s apart): two findings, none twice
    times = sorted(round(f["t0"], 1) for f in findings)
    assert len(times) == len(set(times)), times
    assert all(b - a > 5 for a, b in zip(times, times[1:])), times
    assert times and abs(times[0] - claim_t) < 3
    # every finding's clip exists and plays, or a clip_failed record says why; the first run's owed clip included
    made = {r["path"] for r in records if r["type"] == "clip"}
    failed = {r["clip"] for r in records if r["type"] == "clip_failed"}
    for f in [r for r in records if r["type"] == "finding"]:
        assert f["clip"] in made | failed, f
        if f["clip"] in made:
            assert probe(f["clip"]).has_audio
    # the database: no finding stored twice, no flag pointing at a file that does not exist
    con = sqlite3.connect(db)
    rows = con.execute("select label, t0_ms from findings").fetchall()
    assert len(rows) == len(set(rows))
    for clip_path, evidence in con.execute("select clip_path, evidence from flags"):
        assert (clip_path and os.path.exists(clip_path)) or "[no clip" in evidence
    assert con.execute("select count(*) from recordings").fetchone()[0] == 1  # one monitoring session
    # the first run's recording is still there, beside the second's (names differ per run)
    runs_after = {p.name.split("_s")[0] for p in (work / "room" / "recording").glob("*.ts")}
    assert runs_before < runs_after
    closed = [json.loads(x) for x in (work / "room" / "recording" / "index.jsonl").read_text().splitlines()]
    paths = [seg["path"] for seg in closed if seg["t1"] > seg["t0"]]  # each segment is listed open, then closed
    assert len(paths) == len(set(paths))
    gaps = [r for r in records if r["type"] == "gap"]
    assert gaps and gaps[0]["reason"] == "monitor restarted"


def test_kill_9_after_a_claim_was_heard_but_before_it_was_checked_reports_it_after_restart(room, tmp_path):
    """The monitor is killed while the claim's audio is recorded but not yet transcribed (in the
    stream's buffer, in the ASR batch, or not yet a whole window). The restart reads it back from
    the recording and reports it, once; nothing already reported is reported again."""
    from ingest.recorder import read_index

    _, twice, placed = room
    claim = [p for p in placed if p.text == CLAIM][0]
    work, db, out = tmp_path / "work", tmp_path / "lg.sqlite", tmp_path / "out.jsonl"
    with hls_server(twice, tmp_path / "hls", list_size=120) as (url, _):
        cmd = _monitor_cmd(url, work, db, out, clip_after=3, duration=120)
        first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline, recorded = time.time() + 120, 0.0
        while time.time() < deadline and recorded < claim.t1 + 0.3:
            segs = read_index(work / "room" / "recording")  # the open segment's end read from the file
            recorded = max((s.t1 for s in segs), default=0.0)
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stderr.close()
        assert recorded >= claim.t1 + 0.3, "the claim was never recorded"
        before = [r for r in _records(out) if r["type"] == "finding"]
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert not any(abs(f["t0"] - claim.t0) < 3 for f in before), "reported before the kill: recovery not exercised"
    records = _records(out)
    (rec,) = [r for r in records if r["type"] == "recovered"]
    assert rec["spans"][0][0] <= claim.t0 and rec["spans"][-1][1] >= claim.t1
    medical = [r for r in records if r["type"] == "finding" and r["label"] == "medical_claim_non_drug"
               and abs(r["t0"] - claim.t0) < 3]
    assert len(medical) == 1 and medical[0]["recovered"], medical
    said = [r for r in records if r["type"] == "transcript" and "diabetes" in r["text"].lower()
            and abs(r["t0"] - claim.t0) < 4]
    assert len(said) == 1, said  # transcribed once, not once per run
    clips = {r["path"] for r in records if r["type"] == "clip"} | {r["clip"] for r in records if r["type"] == "clip_failed"}
    assert medical[0]["clip"] in clips
    con = sqlite3.connect(db)
    rows = con.execute("select label, t0_ms from findings").fetchall()
    assert len(rows) == len(set(rows))
    assert con.execute("select count(*) from findings where label = 'medical_claim_non_drug' and abs(t0_ms - ?) < 3000",
                       (claim.t0 * 1000,)).fetchone()[0] == 1


def test_joining_a_cluster_with_a_token_at_hand_uses_token_auth(tmp_path):
    from pipeline.ray_monitor import join_cluster_auth

    (tmp_path / ".ray").mkdir()
    env = {"RAY_ADDRESS": "127.0.0.1:6379"}
    assert join_cluster_auth(env, home=tmp_path) is None  # no token anywhere: nothing to guess
    (tmp_path / ".ray" / "auth_token").write_text("x" * 32)
    assert join_cluster_auth(env, home=tmp_path) == "token" and env["RAY_AUTH_MODE"] == "token"
    chosen = {"RAY_ADDRESS": "127.0.0.1:6379", "RAY_AUTH_MODE": "disabled"}
    assert join_cluster_auth(chosen, home=tmp_path) is None and chosen["RAY_AUTH_MODE"] == "disabled"
    assert join_cluster_auth({}, home=tmp_path) is None  # a local Ray: Ray's own default


def test_ray_on_this_machine_stays_on_loopback_and_a_remote_cluster_is_left_alone():
    from pipeline.ray_monitor import _local_ray_on_loopback, _ray_address

    for env in ({}, {"RAY_ADDRESS": "127.0.0.1:6380"}, {"RAY_ADDRESS": "localhost:6380"}):
        _local_ray_on_loopback(env)
        assert env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0", env
    for env in ({"RAY_ADDRESS": "10.1.2.3:6379"}, {"RAY_ADDRESS": "ray://head:10001"}):
        _local_ray_on_loopback(env)
        assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in env, env
    assert _ray_address({"RAY_ADDRESS": "[::1]:6380"}) == ("::1", 6380)
    assert _ray_address({"RAY_ADDRESS": "auto"}) is None


def test_a_cluster_address_that_does_not_answer_is_an_error_not_a_hang(tmp_path):
    port = free_port()  # nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    proc = subprocess.run([LIVEGUARD, "monitor", f"http://127.0.0.1:{free_port()}/x.m3u8", "--db", "none",
                           "--claims", "rules", "--workdir", str(tmp_path / "w"), "-q", "--duration", "30"],
                          env={**env, "RAY_ADDRESS": f"127.0.0.1:{port}"}, capture_output=True, text=True,
                          timeout=120)  # Ray alone would retry without end: TimeoutExpired
    assert proc.returncode != 0 and f"cannot reach the Ray cluster at RAY_ADDRESS=127.0.0.1:{port}" in proc.stderr


def test_timed_stop_transcribes_the_buffered_audio_and_clips_hold_the_claim(room, ray_local, tmp_path):
    """`--duration` ends the run just after the claim: the audio still held (not yet a full window)
    is transcribed, and the clip, cut after the open segment was closed, holds the claim's words."""
    from pipeline.ray_monitor import RayMonitor, StreamSpec
    from tests.utils.servers import rtmp_server

    flv, _, placed = room
    claim = [p for p in placed if p.text == CLAIM][0]
    records = []
    opts = MonitorOptions(window_max_s=8, window_min_s=4, clip_before_s=2, clip_after_s=5,
                          live=LiveOptions(read_timeout_s=3, backoff_initial_s=0.3, give_up_after_s=10))
    with rtmp_server(flv) as (url, _):  # plays in real time from the moment the monitor connects
        mon = RayMonitor([StreamSpec("room", url)], tmp_path / "work", opts, on_record=records.append)
        mon.start()

        def stop_after_claim(m):  # stream time, not wall time: the stream starts when the actor connects
            snap = m.snapshots.get("room")
            if snap is not None and snap.stream_t >= claim.t1 + 1.0:
                m.request_stop()

        try:
            mon.run(duration_s=120, on_status=stop_after_claim, status_every_s=0.2)
        finally:
            mon.stop()
    assert [r for r in records if r["type"] == "stream_ended"][0]["stream_t"] < claim.t1 + 4
    medical = [r for r in records if r["type"] == "finding" and r["label"] == "medical_claim_non_drug"]
    assert len(medical) == 1, records
    (clip,) = [r for r in records if r["type"] == "clip" and r["label"] == "medical_claim_non_drug"]
    held = probe(clip["path"]).duration_s
    assert held >= medical[0]["t1"] - clip["t0"] - 0.3, (held, clip, medical[0])


def test_output_torn_by_a_crash_is_closed_before_new_records(tmp_path):
    from liveguard.monitor_cli import _open_out

    out = tmp_path / "out.jsonl"
    out.write_text('{"type": "transcript", "text": "ok"}\n{"type": "find')  # kill -9 mid-write
    with _open_out(str(out)) as f:
        f.write(json.dumps({"type": "finding", "label": "fake_price"}) + "\n")
    assert _records(out)[-1] == {"type": "finding", "label": "fake_price"}
    assert len(out.read_text().splitlines()) == 3


def test_monitor_joins_a_cluster_started_with_ray_start(room, tmp_path):
    """A user's own cluster: `ray start --head` on loopback with token authentication (this Ray turns it
    on whenever ~/.ray/auth_token exists, and any local `ray.init()` writes one); `liveguard monitor`
    with only RAY_ADDRESS set joins it, runs there and finds the claim."""
    import shutil
    import socket
    import tempfile

    flv, _, _ = room
    home = tmp_path / "home"
    home.mkdir()
    ray_tmp = Path(tempfile.mkdtemp(prefix="lgray", dir="/tmp"))  # Ray's socket paths must stay short
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    # the head on loopback only (Ray's laptop setting); HOME: where `ray start` writes the token
    head_env = {**base, "HOME": str(home), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    ray_cli = str(Path(sys.executable).parent / "ray")
    subprocess.run([ray_cli, "get-auth-token", "--generate"], env=head_env, check=True, capture_output=True,
                   timeout=60)
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={ray_tmp}"],
                            env=head_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 90
        while True:
            with socket.socket() as probe_sock:
                if probe_sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None and time.time() < deadline, "ray start --head did not come up"
            time.sleep(0.5)
        out = tmp_path / "out.jsonl"
        mon_env = {**base, "HOME": str(home), "RAY_ADDRESS": f"127.0.0.1:{port}"}  # nothing else set
        with hls_server(flv, tmp_path / "hls", list_size=60) as (url, _):
            proc = subprocess.run([LIVEGUARD, "monitor", url, "--stream-id", "room", "--give-up", "4", "--db",
                                   "none", "--claims", "rules", "--workdir", str(tmp_path / "w"), "--out",
                                   str(out), "-q", "--window-s", "6", "--duration", "90", "--hls-start", "1000"],
                                  env=mon_env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert any(r["type"] == "finding" and r["label"] == "medical_claim_non_drug" for r in _records(out))
        # it ran on the user's cluster (its driver and workers logged there), not on a Ray of its own
        logs = list(ray_tmp.glob("session_*/logs/python-core-driver-*"))
        assert logs, sorted(p.name for p in ray_tmp.glob("session_*/logs/*"))[:40]
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        subprocess.run(["pkill", "-9", "-f", str(ray_tmp)], check=False)  # its raylet, GCS and workers
        shutil.rmtree(ray_tmp, ignore_errors=True)
