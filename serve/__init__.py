"""Serve: persistence of results now; the FastAPI review service, blacklist and regulator API later.

Nothing imports this package from below (ingest, asr, vision, claims, pipeline).
"""

from serve.db import DEFAULT_DB_URL, make_engine, make_sessionmaker
from serve.store import SaveCounts, save_scan
from serve.tables import Base, FindingRow, Recording, ScanError, TranscriptSegment

__all__ = ["DEFAULT_DB_URL", "Base", "FindingRow", "Recording", "SaveCounts", "ScanError", "TranscriptSegment",
           "make_engine", "make_sessionmaker", "save_scan"]
