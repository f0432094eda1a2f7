"""Webhooks: events on new flags, decisions and blacklist changes, delivered from an outbox.

crud writes one `webhook_deliveries` row per receiver in the same transaction as the change,
so a crash never loses an event; this worker posts pending rows and retries failures with
exponential backoff (webhook_backoff_s, doubled each time, webhook_retries times).

Each POST carries
    X-LiveGuard-Event-Id    the event id: the same on every retry, so receivers drop duplicates
    X-LiveGuard-Event       e.g. flag.created, flag.decided, blacklist.added, blacklist.lifted
    X-LiveGuard-Timestamp   unix seconds, signed with the body (limits replays)
    X-LiveGuard-Signature   sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

and the body {"id", "type", "created_at", "data", "subject", "sequence"}: `subject` is what the
event is about ("flag:12", "blacklist_entry:3") and `sequence` its number among that subject's
events (1, 2, ...). A failed delivery is retried later, so events can arrive out of order:
receivers apply an event only if its sequence is above the last one they applied for the subject.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from serve.settings import Settings
from serve.tables import WebhookDelivery

__all__ = ["WebhookWorker", "sign", "verify_signature"]

log = logging.getLogger(__name__)
POLL_S = 0.2  # how often the outbox is checked, in seconds
TIMEOUT_S = 5.0  # per delivery attempt
BATCH = 50  # deliveries per poll


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, max_age_s: float = 300) -> bool:
    """For receivers: the signature matches (in constant time) and the timestamp is recent."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= max_age_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookWorker:
    def __init__(self, sessions, settings: Settings, poll_s: float = POLL_S) -> None:
        self.sessions, self.settings, self.poll_s = sessions, settings, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveguard-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # noqa: BLE001 - the worker must outlive a bad row or a database hiccup
                log.exception("webhook worker pass failed")
            self._stop.wait(self.poll_s)

    def deliver_due(self) -> int:
        """Try every delivery that is due once; returns how many succeeded."""
        now = datetime.now(timezone.utc)
        ok = 0
        with self.sessions() as session:
            due = list(session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.delivered_at.is_(None), WebhookDelivery.attempts <= self.settings.webhook_retries,
                WebhookDelivery.next_attempt_at <= now).order_by(WebhookDelivery.id).limit(BATCH)))
            for d in due:
                error = self._post(d)
                d.attempts += 1
                if error is None:
                    d.delivered_at, d.last_error = datetime.now(timezone.utc), None
                    ok += 1
                else:
                    d.last_error = error
                    d.next_attempt_at = datetime.now(timezone.utc) + timedelta(
                        seconds=self.settings.webhook_backoff_s * 2 ** (d.attempts - 1))
                    log.warning("webhook %s to %s failed (attempt %d): %s", d.event_id, d.url, d.attempts, error)
                session.commit()
        return ok

    def _post(self, d: WebhookDelivery) -> str | None:
        body = json.dumps({"id": d.event_id, "type": d.kind, "created_at": d.created_at.isoformat(),
                           "data": d.payload, "subject": d.subject, "sequence": d.subject_seq},
                          sort_keys=True, separators=(",", ":")).encode()
        ts = str(int(time.time()))
        req = urllib.request.Request(d.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-LiveGuard-Event-Id": d.event_id, "X-LiveGuard-Event": d.kind,
            "X-LiveGuard-Timestamp": ts, "X-LiveGuard-Signature": sign(self.settings.webhook_secret, ts, body),
            "X-LiveGuard-Subject": d.subject or "", "X-LiveGuard-Sequence": str(d.subject_seq or "")})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                resp.read()
                return None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            exc.close()
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
