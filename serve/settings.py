"""Service settings: one pydantic-settings object read from LIVEGUARD_* environment variables.

Nested values use a double underscore: LIVEGUARD_POLICY__BLACKLIST_AFTER=3.
Outside `development` the default secrets are refused, so a deployment cannot run with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from serve.db import DEFAULT_DB_URL

__all__ = ["DEFAULT_SECRET", "SanctionPolicy", "Settings"]

DEFAULT_SECRET = "changethis"


class SanctionPolicy(BaseModel):
    """What a confirmed flag does to its streamer (see the ladder in CLAIMS_TAXONOMY.md)."""

    model_config = ConfigDict(extra="forbid")

    suspend_severities: list[Literal["high", "medium", "low"]] = Field(
        default=["high"], description="a confirmed flag of these severities suspends the stream")
    warn_severities: list[Literal["high", "medium", "low"]] = Field(
        default=["medium", "low"], description="a confirmed flag of these severities gives a warning")
    blacklist_after: int = Field(default=3, ge=1, description="confirmed flags within the window that blacklist")
    window_days: int = Field(default=30, ge=1, description="the window for blacklist_after, in days")
    blacklist_days: int | None = Field(default=365, ge=1, description="blacklist duration; null: until lifted")
    suspend_days: int = Field(default=7, ge=1, description="how long a suspension lasts, in days")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVEGUARD_", env_nested_delimiter="__", extra="forbid")

    environment: Literal["development", "test", "production"] = Field(
        default="development", description="outside development, default secrets are refused")
    db_url: str = Field(default=DEFAULT_DB_URL, description="SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...)")
    webhook_secret: str = Field(default=DEFAULT_SECRET, description="HMAC-SHA256 key that signs webhook bodies")
    webhook_urls: list[str] = Field(default=[], description="receivers of flag/decision/blacklist events")
    webhook_retries: int = Field(default=4, ge=0, description="extra attempts after a failed delivery")
    webhook_backoff_s: float = Field(default=0.5, ge=0, description="first retry delay; doubles each time")
    evidence_dir: Path = Field(default=Path("evidence"), description="where evidence packages (clips) are kept")
    clip_roots: list[Path] = Field(default=[], description="clip paths given to the API must lie under one of these")
    rescan_roots: list[Path] = Field(default=[], description="files submitted for re-scans must lie under these")
    rescan_model: str = Field(default="whisper-base", description="Whisper used by re-scan jobs (registry name)")
    rescan_claims: Literal["combined", "rules"] = Field(
        default="combined", description="claims detector of re-scan jobs: rules + the fine-tuned model, or rules alone")
    export_signing_key: Path | None = Field(default=None, description="PEM Ed25519 private key that signs exports")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="larger request bodies get 413")
    max_upload_bytes: int = Field(default=25_000_000, ge=1024,
                                  description="body limit for photo / recording uploads (POST /gallery)")
    gallery_path: Path | None = Field(
        default=None, description="protected-people gallery (JSON, shared with `liveguard gallery`); default: "
                                  "liveguard-gallery.json beside the SQLite database, else in evidence_dir")
    rate_limit_per_minute: int = Field(default=600, ge=1, description="requests per API key per minute")
    lease_seconds: int = Field(default=300, ge=1, description="how long a claim on a flag lasts")
    retention_years: int = Field(default=3, ge=3, description="records are kept at least this long (law: 3)")
    appeal_route: str = Field(
        default="Appeal within 60 days through POST /blacklist/{id}/appeals or to the platform's compliance desk; "
                "a person reviews every appeal.",
        description="how to appeal, recorded on every blacklist entry")
    policy: SanctionPolicy = Field(default_factory=SanctionPolicy, description="the sanctions policy")

    @model_validator(mode="after")
    def _evidence_beside_the_database(self) -> Settings:
        """A relative evidence directory belongs to its database: beside the SQLite file (so
        `liveguard evidence verify --db sqlite:////path/lg.sqlite` finds the clips from any directory),
        else the directory the service starts in, fixed at start."""
        if not self.evidence_dir.is_absolute():
            base = Path.cwd()
            if self.db_url.startswith("sqlite:///") and ":memory:" not in self.db_url:
                base = Path(self.db_url[len("sqlite:///"):].split("?", 1)[0]).parent.resolve()
            self.evidence_dir = base / self.evidence_dir
        return self

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> Settings:
        if self.environment != "development" and self.webhook_secret == DEFAULT_SECRET:
            raise ValueError(f"LIVEGUARD_WEBHOOK_SECRET is the default {DEFAULT_SECRET!r}; "
                             f"set a real secret for environment {self.environment!r}")
        return self
