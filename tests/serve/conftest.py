"""Fixtures for the service: a database per test on SQLite and on a real PostgreSQL server
(Debian's postgresql, started once per session in a temporary directory), an app, keys per role."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serve.app import create_app
from serve.auth import ROLES, create_key
from serve.db import make_engine, make_sessionmaker
from serve.settings import Settings
from serve.tables import Base

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_pg_user(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; run the server as the `postgres` system user then
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str]) -> None:
    res = subprocess.run(_as_pg_user(cmd), capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr or res.stdout}")


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server on 127.0.0.1:<free port>; yields a URL without a database name."""
    if not PG_BIN:
        pytest.skip("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server as")
    bindir = Path(PG_BIN[-1]).parent
    # Not under pytest's basetemp: pytest resets /tmp/pytest-of-<user> to mode 0700 whenever any
    # pytest run starts, which would lock the `postgres` user out of a running server.
    root = Path(tempfile.mkdtemp(prefix="liveguard-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
    port = free_port()
    opts = f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off " \
           f"-c synchronous_commit=off -c max_connections=200"
    _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_pg_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


TEMPLATE_DB = "lg_template"


def _pg_admin(base: str):
    import psycopg

    return psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://") + "/postgres", autocommit=True)


@pytest.fixture(scope="session")
def pg_template(pg_server):
    """A database with the tables made once; each test copies it (CREATE DATABASE ... TEMPLATE),
    which is several times faster than creating the tables again."""
    with _pg_admin(pg_server) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    eng = make_engine(f"{pg_server}/{TEMPLATE_DB}")
    eng.dispose()
    return pg_server


def _database(request, tmp_path, blank: bool):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lg.sqlite'}"
        return
    base = request.getfixturevalue("pg_server" if blank else "pg_template")
    name = "t_" + uuid.uuid4().hex[:12]
    with _pg_admin(base) as conn:
        conn.execute(f"CREATE DATABASE {name}" + ("" if blank else f" TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY"))
    yield f"{base}/{name}"
    with _pg_admin(base) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A database with the tables, on SQLite and on PostgreSQL."""
    yield from _database(request, tmp_path, blank=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db_url(request, tmp_path):
    """An empty database (no tables), for the migration tests."""
    yield from _database(request, tmp_path, blank=True)


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)  # create_all: the migration test checks that it matches the migrations
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def settings(db_url, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    return Settings(environment="test", db_url=db_url, webhook_secret="test-secret", evidence_dir=tmp_path / "ev",
                    clip_roots=[clips], rate_limit_per_minute=10_000)


@pytest.fixture
def app(settings, engine):
    return create_app(settings, engine=engine, start_workers=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(sessions):
    """A token per role (plus a second moderator) -> use as `headers=auth(keys['admin'])`."""
    out = {}
    with sessions() as s:
        for role in ROLES:
            out[role] = create_key(s, name=f"{role}-1", role=role)[1]
        out["moderator2"] = create_key(s, name="moderator-2", role="moderator")[1]
        s.commit()
    return out


def problem(r) -> str:
    """The messages of an error response: `detail` is a string, or for a 422 the validation list."""
    d = r.json()["detail"]
    return d if isinstance(d, str) else " | ".join(e["msg"] for e in d)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


__all__ = ["Base", "auth", "free_port", "problem"]
