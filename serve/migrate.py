"""Alembic migrations, run from code (`liveguard serve` does this at start) or with `alembic`.

A database the scanner created (serve.db.make_engine creates its tables directly) has no
alembic_version: it is stamped with the revision its tables match, then upgraded.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from liveguard.errors import ConfigError
from serve.tables import Base

__all__ = ["MIGRATIONS_DIR", "SCAN_TABLES", "alembic_config", "schema_diff", "stamp_head", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SCAN_TABLES = {"recordings", "transcript_segments", "findings", "scan_errors"}  # revision 0001
SCAN_REVISION = "0001"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def schema_diff(connection: Connection) -> list:
    """What differs between the live schema and the tables in serve.tables (empty: they match)."""
    ctx = MigrationContext.configure(connection, opts={"compare_type": True})
    sqlite = connection.dialect.name == "sqlite"
    return [d for d in compare_metadata(ctx, Base.metadata)
            if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
            and not (sqlite and _is_int_ms(d))]  # SQLite: INTEGER and BIGINT are one 8-byte type


def _is_int_ms(d) -> bool:
    """A diff entry saying a millisecond column is still INTEGER (schemas before revision 0003)."""
    items = d if isinstance(d, list) else [d]
    return all(isinstance(i, tuple) and i[0] == "modify_type" and str(i[3]).endswith("_ms") for i in items)


ADDED_IN_0003 = {("recordings", "recorded_at"), ("webhook_deliveries", "subject"), ("webhook_deliveries", "subject_seq")}


def _added_in_0003(d) -> bool:
    """A diff entry for a column (or its index) that revision 0003 adds."""
    if isinstance(d, tuple) and d[0] == "add_column":
        return (d[2], d[3].name) in ADDED_IN_0003
    if isinstance(d, tuple) and d[0] == "add_index":
        return d[1].table.name == "webhook_deliveries" and [c.name for c in d[1].columns] == ["subject"]
    return False


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        tables = set(inspect(conn).get_table_names())
        cfg = alembic_config(conn)
        if "alembic_version" not in tables and tables:
            if tables >= set(Base.metadata.tables):
                diff = schema_diff(conn)
                if diff and all(_is_int_ms(d) or _added_in_0003(d) for d in diff):  # a scanner before 0003
                    command.stamp(cfg, "0002")
                elif diff:
                    raise ConfigError(f"database has LiveGuard tables but no migration version, and they differ "
                                      f"from this version's schema: {diff[:5]}")
                else:
                    command.stamp(cfg, "head")
            elif tables >= SCAN_TABLES:
                command.stamp(cfg, SCAN_REVISION)
        command.upgrade(cfg, revision)


def stamp_head(engine: Engine) -> None:
    """Record that a database made from serve.tables (create_all) is at the newest migration."""
    with engine.begin() as conn:
        command.stamp(alembic_config(conn), "head")
