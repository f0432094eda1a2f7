"""ASGI middleware: request-body size limit (413) and request metrics for /metrics."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

from starlette.exceptions import HTTPException

__all__ = ["BodyLimitMiddleware", "Metrics", "MetricsMiddleware"]

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes`: at once when Content-Length says so, otherwise as soon as
    the streamed body passes the limit (chunked uploads carry no Content-Length)."""

    def __init__(self, app, max_bytes: int, overrides: dict[str, int] | None = None) -> None:
        self.app, self.default_max = app, max_bytes
        self.overrides = overrides or {}  # path prefix -> its own limit (upload routes)

    def _limit(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.default_max

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        max_bytes = self._limit(scope.get("path", ""))
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    return await _send_json(send, 400, "Content-Length is not a number")
                if n > max_bytes:
                    return await _send_json(send, 413, f"request body over {max_bytes} bytes")
        seen, started = 0, False

        async def limited_receive():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > max_bytes:
                    raise HTTPException(413, f"request body over {max_bytes} bytes")
            return msg

        async def watch_send(msg):
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, limited_receive, watch_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await _send_json(send, 413, exc.detail)


class Metrics:
    """Counters kept in this process, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency_buckets: dict[tuple[str, str], list[int]] = {}
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.latency_count: dict[tuple[str, str], int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            b = self.latency_buckets.setdefault((method, route), [0] * len(LATENCY_BUCKETS_S))
            for i, le in enumerate(LATENCY_BUCKETS_S):
                if seconds <= le:
                    b[i] += 1
            self.latency_sum[(method, route)] += seconds
            self.latency_count[(method, route)] += 1

    def render(self, gauges: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]) -> str:
        def lbl(pairs) -> str:
            return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in pairs) + "}" if pairs else ""

        out = ["# HELP liveguard_http_requests_total HTTP requests by method, route and status.",
               "# TYPE liveguard_http_requests_total counter"]
        with self._lock:
            for (m, r, s), n in sorted(self.requests.items()):
                out.append(f"liveguard_http_requests_total{lbl([('method', m), ('route', r), ('status', str(s))])} {n}")
            out += ["# HELP liveguard_http_request_duration_seconds Request latency.",
                    "# TYPE liveguard_http_request_duration_seconds histogram"]
            for (m, r), buckets in sorted(self.latency_buckets.items()):
                base = [("method", m), ("route", r)]
                for le, n in zip(LATENCY_BUCKETS_S, buckets):
                    out.append(f"liveguard_http_request_duration_seconds_bucket{lbl(base + [('le', str(le))])} {n}")
                cnt = self.latency_count[(m, r)]
                out.append(f"liveguard_http_request_duration_seconds_bucket{lbl(base + [('le', '+Inf')])} {cnt}")
                out.append(f"liveguard_http_request_duration_seconds_sum{lbl(base)} {self.latency_sum[(m, r)]:.6f}")
                out.append(f"liveguard_http_request_duration_seconds_count{lbl(base)} {cnt}")
        for name, (help_, series) in gauges.items():
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
            out += [f"{name}{lbl(labels)} {value:g}" for labels, value in sorted(series.items())]
        return "\n".join(out) + "\n"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status, t0 = 500, time.perf_counter()

        async def watch(msg):
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = scope.get("route")
            # the route template, not the raw path: /flags/{flag_id}, so ids do not explode the label set
            self.metrics.observe(scope["method"], getattr(route, "path", "unmatched"), status,
                                 time.perf_counter() - t0)
