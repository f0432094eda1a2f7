"""The streams the service says to watch: `liveguard monitor --from-service URL`.

Moderators and platforms register streams and start/stop them through the service API
(`POST /streams`, `POST /streams/{id}/start|stop`); the monitor polls `GET /streams?monitoring=
monitoring` and starts watching new ones within one poll, with their listing, and stops the ones
that were stopped. A poll that fails (service down, bad key) is reported and the monitor keeps
watching what it has: the service being away never stops a running monitor.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

__all__ = ["ServiceStream", "ServiceError", "fetch_monitored", "stream_key"]


class ServiceError(RuntimeError):
    """The service could not be asked (unreachable, refused the key, or answered nonsense)."""


@dataclass(frozen=True)
class ServiceStream:
    id: int
    url: str
    listing: dict | None
    streamer_id: int | None


def stream_key(stream: ServiceStream) -> str:
    """The monitor's stream id for a service stream (its records and clips are filed under it)."""
    return f"stream-{stream.id}"


def fetch_monitored(base_url: str, key: str, timeout_s: float = 10.0, max_pages: int = 100) -> list[ServiceStream]:
    """Every stream in state "monitoring", following the service's pagination cursor."""
    out: list[ServiceStream] = []
    cursor = None
    for _ in range(max_pages):
        query = {"monitoring": "monitoring", "limit": "500", **({"cursor": cursor} if cursor else {})}
        req = urllib.request.Request(f"{base_url.rstrip('/')}/streams?{urllib.parse.urlencode(query)}",
                                     headers={"Authorization": f"Bearer {key}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                page = json.load(resp)
        except urllib.error.HTTPError as exc:
            raise ServiceError(f"{base_url}: HTTP {exc.code} on GET /streams "
                               f"({'check the API key' if exc.code in (401, 403) else exc.reason})") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ServiceError(f"{base_url}: cannot list streams: {getattr(exc, 'reason', exc)}") from None
        try:
            out += [ServiceStream(int(s["id"]), str(s["url"]), s.get("listing"), s.get("streamer_id"))
                    for s in page["data"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ServiceError(f"{base_url}: unexpected /streams answer ({exc!r})") from None
        cursor = page.get("next_cursor")
        if not cursor:
            return out
    raise ServiceError(f"{base_url}: more than {max_pages} pages of streams")
