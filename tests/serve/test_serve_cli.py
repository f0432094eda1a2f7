"""`liveguard serve` starts uvicorn on 127.0.0.1 with the migrated database; keys create works on it."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

from tests.serve.conftest import free_port

RUN = ("import argparse, sys; from liveguard.serve_cli import add_serve_parsers; "
       "p = argparse.ArgumentParser(); add_serve_parsers(p.add_subparsers(dest='c', required=True)); "
       "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")


def test_serve_command_answers_health_and_keys(tmp_path):
    db = f"sqlite:///{tmp_path / 'svc.sqlite'}"
    token = subprocess.run([sys.executable, "-c", RUN, "keys", "create", "--role", "admin", "--name", "ops", "--db", db],
                           capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", RUN, "serve", "--port", str(port), "--db", db,
                             "--evidence-dir", str(tmp_path / "ev")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/keys", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert b'"ops"' in r.read()
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
