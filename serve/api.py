"""All routers in one place. Each operation's allowed roles go into the OpenAPI document as
`x-roles` (read from its RoleChecker dependency); a test walks the document to check them all."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel

from serve.auth import RoleChecker
from serve.routes import blacklist, evidence, flags, gallery, health, keys, metrics, rescans, streamers, streams

__all__ = ["ROUTERS", "api_router", "roles_of"]

ROUTERS = [health.router, flags.router, streams.router, streamers.router, blacklist.router,
           blacklist.appeals_router, evidence.router, keys.router, keys.audit_router, rescans.router,
           gallery.router, metrics.router]


def roles_of(dependant) -> tuple[str, ...] | None:
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleChecker):
            return dep.call.roles
        found = roles_of(dep)
        if found:
            return found
    return None


class ErrorDetail(BaseModel):
    detail: str


# The errors any operation may answer, documented once so clients (and schemathesis) know them:
# the body is always {"detail": "<what is wrong>"}.
COMMON_ERRORS = {code: {"model": ErrorDetail, "description": why} for code, why in (
    (400, "a value the database or a cursor check refused"), (401, "no key, or an unknown or revoked key"),
    (403, "the key's role may not do this"), (404, "an id that does not exist"),
    (409, "conflicts with the current state (a lease, a decided flag, a duplicate)"),
    (413, "body over the size limit"), (429, "over the per-key rate limit"))}

api_router = APIRouter()
for _router in ROUTERS:
    for _route in _router.routes:
        if isinstance(_route, APIRoute) and (_roles := roles_of(_route.dependant)):
            _route.openapi_extra = {**(_route.openapi_extra or {}), "x-roles": list(_roles)}
            _route.responses = {**COMMON_ERRORS, **_route.responses}
    api_router.include_router(_router)
