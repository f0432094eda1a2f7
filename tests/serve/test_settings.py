from pathlib import Path

import pytest
from pydantic import ValidationError

from serve.settings import Settings


def test_default_secret_refused_outside_development(monkeypatch):
    monkeypatch.setenv("LIVEGUARD_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="LIVEGUARD_WEBHOOK_SECRET"):
        Settings()
    monkeypatch.setenv("LIVEGUARD_WEBHOOK_SECRET", "s3cret-from-vault")
    assert Settings().environment == "production"


def test_development_allows_defaults_and_env_nesting(monkeypatch):
    monkeypatch.setenv("LIVEGUARD_POLICY__BLACKLIST_AFTER", "5")
    monkeypatch.setenv("LIVEGUARD_DB_URL", "sqlite:///x.sqlite")
    s = Settings()
    assert s.policy.blacklist_after == 5 and s.db_url == "sqlite:///x.sqlite" and s.retention_years >= 3


def test_bad_values_name_the_key(monkeypatch):
    monkeypatch.setenv("LIVEGUARD_RETENTION_YEARS", "1")
    with pytest.raises(ValidationError, match="retention_years"):
        Settings()


def test_a_relative_evidence_dir_lives_beside_the_sqlite_database(tmp_path, monkeypatch):
    """So `liveguard evidence verify --db sqlite:////path/lg.sqlite` finds the clips from any directory."""
    from serve.settings import Settings

    monkeypatch.chdir(tmp_path)
    s = Settings(environment="test", webhook_secret="x", db_url="sqlite:////srv/liveguard/lg.sqlite")
    assert s.evidence_dir == Path("/srv/liveguard/evidence")
    s = Settings(environment="test", webhook_secret="x", db_url="postgresql+psycopg://db/lg")
    assert s.evidence_dir == tmp_path / "evidence"  # fixed at start, not at each use
    s = Settings(environment="test", webhook_secret="x", db_url="sqlite:////srv/lg.sqlite", evidence_dir="/ev")
    assert s.evidence_dir == Path("/ev")
