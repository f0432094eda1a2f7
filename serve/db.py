"""Engine and sessions. SQLite needs no set-up; any SQLAlchemy URL (PostgreSQL) works the same."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from liveguard.errors import ConfigError
from serve.tables import Base

__all__ = ["DEFAULT_DB_URL", "make_engine", "make_sessionmaker"]

DEFAULT_DB_URL = "sqlite:///liveguard.sqlite"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the review UI) do not block the scanner
    cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed row
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str = DEFAULT_DB_URL, create_tables: bool = True) -> Engine:
    """An engine for `url`. The scanner lets it create missing tables; the service passes
    create_tables=False and runs the Alembic migrations instead (serve.migrate)."""
    try:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        if create_tables:
            _create_or_upgrade(engine)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise ConfigError(f"cannot open database {url!r}: {exc}") from exc
    return engine


def _create_or_upgrade(engine: Engine) -> None:
    """A new database gets the tables and is stamped with the newest migration; an existing one is
    brought up to date by the migrations (serve.migrate), as `liveguard serve` does. Without this,
    a scanner or monitor of a newer version on an older database failed every write on the new
    columns (found by the soak, which restarted the monitor on a database of the version before)."""
    from serve.migrate import stamp_head, upgrade

    with engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
    if existing:
        upgrade(engine)
    else:
        Base.metadata.create_all(engine)
        stamp_head(engine)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
