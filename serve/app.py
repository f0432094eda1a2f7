"""The FastAPI application factory: `create_app(settings)` builds the whole service.

Collaborators come in as arguments (an engine, say) so tests can pass their own.
"""

from __future__ import annotations

import logging
import math
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from serve.api import api_router
from serve.auth import RateLimiter
from serve.db import make_engine, make_sessionmaker
from serve.errors import invalid
from serve.middleware import BodyLimitMiddleware, Metrics, MetricsMiddleware
from serve.rescans import RescanWorker, Scanner, default_scanner
from serve.schemas import add_string_rules
from serve.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def json_safe(value):
    """`value` with what JSON responses cannot carry made printable: non-finite numbers and strings
    with lone surrogates as text, anything else not JSON (exceptions in `ctx`) as its str()."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return json_safe(str(value))


def _local_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from files shipped in a Python package, not from a CDN: the
    service often runs where only the platform's own network is reachable."""
    from pathlib import Path

    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs-static", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"),
              name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc():
        return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} API",
                              redoc_js_url="/docs-static/redoc.standalone.js",
                              redoc_favicon_url="/docs-static/favicon.png", with_google_fonts=False)


def _no_nul_in_query(request: Request) -> None:
    """A NUL in a query value is refused on every database (PostgreSQL text cannot hold one)."""
    for name, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in name:
            raise invalid("a NUL character (U+0000) is not allowed", name, where="query")


def _document_no_nul(app: FastAPI) -> None:
    """Say so in the OpenAPI document: every string query parameter without a stricter rule gets
    the pattern of a string without NUL (as the body schemas do)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = build()
            for path in doc.get("paths", {}).values():
                for op in path.values():
                    for param in op.get("parameters", []) if isinstance(op, dict) else []:
                        if param.get("in") == "query":
                            add_string_rules(param.get("schema"), stripped=False)
        return app.openapi_schema

    app.openapi = openapi


def create_app(settings: Settings, *, engine: Engine | None = None, start_workers: bool = True,
               scanner: Scanner | None = None) -> FastAPI:
    """The service. `engine` defaults to settings.db_url, migrated to the newest revision;
    `scanner` (path -> FileScan) defaults to the real pipeline, loaded on the first re-scan;
    start_workers=False leaves the webhook and re-scan threads off (tests drive them)."""
    if engine is None:
        from serve.migrate import upgrade

        engine = make_engine(settings.db_url, create_tables=False)
        upgrade(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        workers = []
        if start_workers and settings.webhook_urls:
            from serve.webhooks import WebhookWorker

            app.state.webhooks = WebhookWorker(app.state.sessions, settings)
            workers.append(app.state.webhooks)
        if start_workers:
            app.state.rescans = RescanWorker(app.state.sessions, settings, scanner or default_scanner(settings))
            workers.append(app.state.rescans)
        for w in workers:
            w.start()
        yield
        for w in workers:
            w.stop()

    app = FastAPI(title="LiveGuard", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  dependencies=[Depends(_no_nul_in_query)],
                  description="Review queue, sanctions, blacklist and evidence for live-commerce monitoring. "
                              "Every route but /healthz needs an API key: `Authorization: Bearer <key>`.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.metrics = Metrics()
    app.state.webhooks = None
    app.state.rescans = None
    app.state.export_signer = None
    if settings.export_signing_key:
        from serve.signing import ExportSigner

        app.state.export_signer = ExportSigner(settings.export_signing_key)
    app.include_router(api_router)
    _local_docs(app)
    _document_no_nul(app)
    from serve import ui

    ui.install(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the bad input, and NaN or a lone surrogate cannot go into
        # a JSON response: the 422 itself then failed with a 500
        return JSONResponse({"detail": json_safe(exc.errors())}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error on %s: %s", request.url.path, exc.orig)
        return JSONResponse({"detail": "conflicts with an existing record; reload and try again"}, status_code=409)

    @app.exception_handler(OperationalError)
    async def _unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error on %s: %s", request.url.path, exc.orig)
        return JSONResponse({"detail": "database unavailable or busy; retry"}, status_code=503,
                            headers={"Retry-After": "1"})

    @app.exception_handler(StatementError)
    async def _bad_value(request: Request, exc: StatementError) -> JSONResponse:
        # e.g. a NUL byte in a string, which PostgreSQL text cannot hold
        return JSONResponse({"detail": f"a value was rejected by the database: {exc.orig}"}, status_code=400)

    # uploads (photos, recordings) get their own, larger limit; every other body stays small
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       overrides={"/gallery": settings.max_upload_bytes})
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
