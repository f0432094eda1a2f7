"""Serve: persistence of scan results, and the review / blacklist service.

    tables.py     SQLAlchemy tables (scan results; streams, streamers, flags, reviews, sanctions,
                  blacklist, appeals, API keys, audit log, evidence chain, webhooks, re-scans)
    store.py      save_scan: idempotent storage of one FileScan
    migrate.py    Alembic migrations (serve/migrations) run from code
    app.py        create_app(settings): the FastAPI service (routes/ per resource, deps, crud, schemas)
    settings.py   pydantic-settings, LIVEGUARD_* environment
    auth.py       hashed API keys, roles, rate limits
    policy.py     the sanctions ladder applied on confirm
    evidence.py   evidence packages and the hash chain; verify
    webhooks.py   signed webhook outbox worker;  rescans.py  background re-scan jobs
    ui.py         the server-rendered review page

Nothing imports this package from below (ingest, asr, vision, claims, pipeline). Importing it
does not load FastAPI or the models: the scanner only needs the tables and save_scan.
"""

from serve.db import DEFAULT_DB_URL, make_engine, make_sessionmaker
from serve.store import SaveCounts, save_scan
from serve.tables import Base, FindingRow, Recording, ScanError, TranscriptSegment

__all__ = ["DEFAULT_DB_URL", "Base", "FindingRow", "Recording", "SaveCounts", "ScanError", "TranscriptSegment",
           "make_engine", "make_sessionmaker", "save_scan"]
