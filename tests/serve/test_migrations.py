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
    engine = create_engine(blank_db_url)
    Base.metadata.create_all(engine)  # unversioned, as scanners before migrations made them
    engine.dispose()
    engine = make_engine(blank_db_url)  # adopted: stamped, not re-created
    upgrade(engine)
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
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    Base.metadata.create_all(engine)  # unversioned, as scanners before migrations made them
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE flags ADD COLUMN surprise INTEGER")
    with pytest.raises(ConfigError, match="differ"):
        upgrade(engine)
    engine.dispose()


def test_a_scanner_or_monitor_brings_an_older_database_up_to_date(tmp_path):
    """The soak found it: a monitor restarted after an upgrade wrote nothing to a database of the
    version before (every insert named a column that database lacked)."""
    from sqlalchemy import select

    from serve.tables import Recording

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = make_engine(url, create_tables=False)
    upgrade(old, "0002")  # the schema of the version before
    old.dispose()
    engine = make_engine(url)  # what `scan --db` and `monitor --db` call
    with engine.connect() as conn:
        assert schema_diff(conn) == []
    from serve.db import make_sessionmaker

    with make_sessionmaker(engine)() as s:
        s.add(Recording(sha256="c" * 64, path="x.mp4"))
        s.commit()
        assert s.scalar(select(Recording.recorded_at)) is None
    engine.dispose()
