"""API keys and roles.

A key is a random token shown once; the database keeps only its SHA-256 (a token has 256 bits of
entropy, so a fast hash is enough: there is nothing to brute-force). Every route but /healthz
depends on `require(...)`, which answers 401 without a valid key, 403 for a role not allowed,
and 429 when the key has used up its requests for the minute.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from serve.tables import ApiKey

__all__ = ["ADMIN", "INGEST", "MODERATOR", "REGULATOR", "ROLES", "KEY_COOKIE", "Principal", "RateLimiter",
           "RoleChecker", "create_key", "hash_token", "require"]

MODERATOR, REGULATOR, ADMIN, INGEST = "moderator", "regulator", "admin", "ingest"
ROLES = (MODERATOR, REGULATOR, ADMIN, INGEST)
TOKEN_PREFIX = "lg_"
KEY_COOKIE = "lg_key"  # the review page keeps the moderator's key in an HttpOnly cookie


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(session: Session, *, name: str, role: str) -> tuple[ApiKey, str]:
    """Add a key (caller commits); returns the row and the token, which is not stored anywhere."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role, key_hash=hash_token(token), prefix=token[:10])
    session.add(row)
    session.flush()
    return row, token


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: str


class RateLimiter:
    """Sliding one-minute window per key, in this process (one uvicorn worker per database is the
    embedded default; a shared limiter would go in Redis)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: int) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key_id, deque())
            while q and q[0] <= now - 60.0:
                q.popleft()
            if len(q) >= self.per_minute:
                return False, 60.0 - (now - q[0])
            q.append(now)
            return True, 0.0


def _token_from(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or request.cookies.get(KEY_COOKIE)


class RoleChecker:
    """A dependency that lets through only keys with one of `roles`; the route table and the
    OpenAPI document (x-roles) are built from these, and a test walks them."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"roles must be some of {ROLES}, got {roles}")
        self.roles = tuple(roles)

    def __call__(self, request: Request) -> Principal:
        token = _token_from(request)
        if not token:
            raise HTTPException(401, "API key required (Authorization: Bearer <key>)",
                                headers={"WWW-Authenticate": "Bearer"})
        sessions = request.app.state.sessions
        with sessions() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(token)))
        if row is None or row.revoked_at is not None:
            raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        if row.role not in self.roles:
            raise HTTPException(403, f"role {row.role!r} may not do this; allowed: {', '.join(self.roles)}")
        ok, retry = request.app.state.rate_limiter.allow(row.id)
        if not ok:
            raise HTTPException(429, "rate limit exceeded for this API key",
                                headers={"Retry-After": str(max(1, int(retry + 0.999)))})
        principal = Principal(row.id, row.name, row.role)
        request.state.principal = principal
        return principal


def require(*roles: str):
    return Annotated[Principal, Depends(RoleChecker(*roles))]
