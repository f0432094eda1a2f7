"""Real live-stream servers on loopback for tests: FFmpeg as an HTTP-FLV or RTMP server for one
client (`-listen 1`), and a live HLS playlist written by FFmpeg and served over HTTP."""

from __future__ import annotations

import functools
import http.server
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ffmpeg_push(src: Path, out: list[str], loop: bool = False) -> subprocess.Popen:
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re"]
    cmd += ["-stream_loop", "-1"] if loop else []
    return subprocess.Popen(cmd + ["-i", str(src), "-c", "copy"] + out, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()


@contextmanager
def _listen_server(src: Path, url: str, loop: bool):
    """FFmpeg muxing FLV to `url` in listen mode: one client, `src` played in real time."""
    proc = _ffmpeg_push(src, ["-f", "flv", "-listen", "1", url], loop)
    try:
        yield url, proc
    finally:
        _stop(proc)


def flv_server(src: Path, port: int | None = None, loop: bool = False):
    """HTTP-FLV: a context yielding (url, process)."""
    return _listen_server(src, f"http://127.0.0.1:{port or free_port()}/live/room.flv", loop)


def rtmp_server(src: Path, port: int | None = None, loop: bool = False):
    """RTMP: a context yielding (url, process)."""
    return _listen_server(src, f"rtmp://127.0.0.1:{port or free_port()}/live/room", loop)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def hls_server(src: Path, workdir: Path, loop: bool = False, list_size: int = 6):
    """Live HLS: FFmpeg writes 1-s segments and a sliding playlist; a thread serves the folder.
    When `src` ends (no `loop`) FFmpeg exits and leaves the playlist without #EXT-X-ENDLIST, as a
    crashed encoder does: a stalled stream."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = _ffmpeg_push(src, ["-f", "hls", "-hls_time", "1", "-hls_list_size", str(list_size), "-hls_flags",
                              "delete_segments+omit_endlist", str(workdir / "live.m3u8")], loop)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(workdir)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    deadline = time.time() + 15
    while not (workdir / "live.m3u8").exists() or (workdir / "live.m3u8").read_text().count("#EXTINF") < 2:
        if time.time() > deadline:
            raise RuntimeError("ffmpeg wrote no HLS playlist in 15 s")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/live.m3u8", proc
    finally:
        _stop(proc)
        httpd.shutdown()
        httpd.server_close()
