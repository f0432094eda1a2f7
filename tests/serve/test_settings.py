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
