"""Dependencies shared by the routers, aliased once here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from serve.auth import ADMIN, INGEST, MODERATOR, REGULATOR, require
from serve.settings import Settings

__all__ = ["AdminDep", "IdPath", "IngestDep", "ReaderDep", "ReviewerDep", "SessionDep", "SettingsDep", "StreamWriterDep",
           "get_db", "get_settings"]


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


# ids are 32-bit in the database: larger ones are a 422 here, not a database error later
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]

SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

AdminDep = require(ADMIN)
ReviewerDep = require(MODERATOR, ADMIN)  # people who decide flags and appeals
ReaderDep = require(MODERATOR, REGULATOR, ADMIN)  # blacklist, evidence, streamer history
IngestDep = require(INGEST, ADMIN)  # detectors pushing flags
StreamWriterDep = require(INGEST, MODERATOR, ADMIN)
# the stream list: `monitor --from-service` polls it with an ingest key
StreamReaderDep = require(INGEST, MODERATOR, REGULATOR, ADMIN)
