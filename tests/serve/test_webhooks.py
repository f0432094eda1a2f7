"""Webhooks against a local receiver: signed, retried with backoff, one event id per event."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from serve.app import create_app
from serve.tables import WebhookDelivery
from serve.webhooks import WebhookWorker, verify_signature
from tests.serve.builders import scanned_recording
from tests.serve.conftest import auth


class Receiver:
    """Fails the first `fail_first` posts of each event with 500, then accepts; keeps events by id
    (so a duplicate delivery changes nothing)."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret, self.fail_first = secret, fail_first
        self.posts: list[tuple[dict, bool, float]] = []  # (headers, signature ok, time)
        self.events: dict[str, dict] = {}
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify_signature(recv.secret, self.headers["x-liveguard-timestamp"], body,
                                      self.headers["x-liveguard-signature"])
                headers = {k.lower(): v for k, v in self.headers.items()}
                recv.posts.append((headers, ok, time.monotonic()))
                if sum(p[0]["x-liveguard-event-id"] == headers["x-liveguard-event-id"] for p in recv.posts) \
                        <= recv.fail_first:
                    self.send_response(500)
                else:
                    event = json.loads(body)
                    recv.events.setdefault(event["id"], event)  # a retried duplicate changes nothing
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    r = Receiver(settings.webhook_secret, fail_first=2)
    yield r
    r.close()


def _wait(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_signed_retried_and_deduplicated(settings, engine, keys, sessions, receiver):
    cfg = settings.model_copy(update={"webhook_urls": [receiver.url], "webhook_backoff_s": 0.1, "webhook_retries": 3})
    app = create_app(cfg, engine=engine)
    with TestClient(app) as c:
        app.state.webhooks.poll_s = 0.02
        rec = scanned_recording(sessions, claims=[(1.0, 2.0, "medical_claim_non_drug", "high", "cures cancer",
                                                   "Advertising Law Art. 17, 28")])
        fid = c.post("/flags/ingest", json={"recording_id": rec.id}, headers=auth(keys["ingest"])).json()["created"][0]
        c.post(f"/flags/{fid}/decision", json={"decision": "dismiss", "reason": "no"}, headers=auth(keys["moderator"]))
        _wait(lambda: len(receiver.events) == 2)
    kinds = sorted(e["type"] for e in receiver.events.values())
    assert kinds == ["flag.created", "flag.decided"]
    # the retried flag.created arrived after flag.decided; the per-subject sequence puts them in order
    by_seq = sorted(receiver.events.values(), key=lambda e: e["sequence"])
    assert [e["type"] for e in by_seq] == ["flag.created", "flag.decided"]
    assert {e["subject"] for e in by_seq} == {f"flag:{fid}"} and [e["sequence"] for e in by_seq] == [1, 2]
    assert all(ok for _, ok, _ in receiver.posts)
    first_id = receiver.posts[0][0]["x-liveguard-event-id"]
    same = [p for p in receiver.posts if p[0]["x-liveguard-event-id"] == first_id]
    assert len(same) == 3  # two failures, then delivered: one event id throughout
    gaps = [b[2] - a[2] for a, b in zip(same, same[1:])]
    assert gaps[1] >= gaps[0] * 1.3 and gaps[0] >= 0.08  # backoff grows
    with sessions() as s:
        rows = s.scalars(select(WebhookDelivery)).all()
        assert all(r.delivered_at is not None for r in rows)


def test_gives_up_after_the_retries(settings, sessions, engine):
    dead = settings.model_copy(update={"webhook_urls": ["http://127.0.0.1:9/none"], "webhook_retries": 1,
                                       "webhook_backoff_s": 0})
    with sessions() as s:
        s.add(WebhookDelivery(event_id="e1", url=dead.webhook_urls[0], kind="flag.created", payload={}))
        s.commit()
    w = WebhookWorker(sessions, dead)
    assert w.deliver_due() == 0 and w.deliver_due() == 0 and w.deliver_due() == 0
    with sessions() as s:
        row = s.scalar(select(WebhookDelivery))
        assert row.attempts == 2 and row.delivered_at is None and row.last_error
