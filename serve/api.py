"""All routers in one place. Each operation's allowed roles go into the OpenAPI document as
`x-roles` (read from its RoleChecker dependency); a test walks the document to check them all."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

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


api_router = APIRouter()
for _router in ROUTERS:
    for _route in _router.routes:
        if isinstance(_route, APIRoute) and (_roles := roles_of(_route.dependant)):
            _route.openapi_extra = {**(_route.openapi_extra or {}), "x-roles": list(_roles)}
    api_router.include_router(_router)
