"""Errors of a request's content in one shape. A 422 always carries FastAPI's validation list
(`[{loc, msg, type}]`), whether pydantic or a later check found the problem, so a client parses
one form and the OpenAPI document's 422 schema holds for every 422 the service answers."""

from __future__ import annotations

from fastapi import HTTPException

__all__ = ["invalid"]


def invalid(msg: str, *loc: str | int, where: str = "body") -> HTTPException:
    """A 422 naming the field (`loc`, under `where`: body, query, path) and what is wrong with it."""
    return HTTPException(422, [{"type": "value_error", "loc": [where, *loc], "msg": msg}])
