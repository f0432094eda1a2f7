"""The Alembic migrations build exactly the schema of serve.tables, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import create_engine, inspect

from liveguard.errors import ConfigError
from serve.db import make_engine
from serve.migrate import schema_diff, upgrade
from serve.tables import Base


def test_migrations_match_the_tables(blank_db_url):
    engine = make_engine(blank_db_url, create_tables=False)
    upgrade(engine)
    with engine.connect() as conn:
        assert schema_diff(conn) == []
        assert set(inspect(conn).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    engine.dispose()


def test_database_made_by_the_scanner_is_adopted(blank_db_url):
    engine = make_engine(blank_db_url)  # create_all, as `liveguard scan` does
    upgrade(engine)  # stamped, not re-created
    upgrade(engine)  # and idempotent
    with engine.connect() as conn:
        assert schema_diff(conn) == []
    engine.dispose()


def test_old_scan_only_database_is_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    scan_tables = [Base.metadata.tables[t] for t in ("recordings", "transcript_segments", "findings", "scan_errors")]
    Base.metadata.create_all(engine, tables=scan_tables)
    upgrade(engine)
    with engine.connect() as conn:
        assert schema_diff(conn) == []
    engine.dispose()


def test_unknown_schema_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE flags ADD COLUMN surprise INTEGER")
    with pytest.raises(ConfigError, match="differ"):
        upgrade(engine)
    engine.dispose()
