"""The review page in a real browser (Debian's chromium, driven by Playwright) against a real
uvicorn server on 127.0.0.1: sign in, open a flag, confirm and dismiss, check the database."""

from __future__ import annotations

import os
import threading
import time

import pytest
import uvicorn
from sqlalchemy import select

from serve.app import create_app
from serve.tables import AuditLog, Flag, Review
from tests.serve.builders import scanned_recording, streamer_with_stream, write_clip
from tests.serve.conftest import auth, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def server(app):
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


def test_confirm_and_dismiss_in_the_browser(browser, server, client, keys, sessions, settings):
    rec = scanned_recording(sessions)
    _, stream_id = streamer_with_stream(sessions)
    clip = write_clip(settings)
    ids = sorted(client.post("/flags/ingest", json={"recording_id": rec.id, "stream_id": stream_id,
                                                     "clip_path": str(clip)}, headers=auth(keys["ingest"])).json()["created"])
    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.goto(server + "/ui")
    assert page.url.endswith("/ui/login")  # no key: sent to sign in
    page.fill("#key", keys["moderator"])
    page.click("#signin")
    page.wait_for_selector("#queue")
    assert page.locator("tr.flag").count() == 3
    first_row = page.locator("tr.flag").first
    assert first_row.get_attribute("class").split()[1] == "sev-high"

    # open the medical claim: the words are highlighted, the clip is there, the flag is leased
    page.click(f'a[href="/ui/flags/{ids[0]}"]')
    page.wait_for_selector("#decide")
    assert page.locator("mark").first.inner_text() == "cure your diabetes"
    assert page.locator("#clip").count() == 1
    with sessions() as s:
        assert s.get(Flag, ids[0]).lease_key_id is not None
    page.fill("#reason", "claims to cure diabetes")
    page.click("#confirm")
    page.wait_for_selector("#queue")
    assert page.locator("tr.flag").count() == 2

    # the keyboard: open the next one and dismiss it with `d` (the reason field first)
    page.goto(f"{server}/ui/flags/{ids[1]}")
    page.keyboard.press("d")
    assert page.evaluate("document.activeElement.id") == "reason"
    page.keyboard.type("a true store fact")
    page.keyboard.press("Enter")
    page.wait_for_selector("#queue")

    with sessions() as s:
        assert s.get(Flag, ids[0]).status == "confirmed" and s.get(Flag, ids[1]).status == "dismissed"
        reviews = {r.flag_id: (r.decision, r.reason, r.reviewer_name) for r in s.scalars(select(Review))}
        assert reviews == {ids[0]: ("confirm", "claims to cure diabetes", "moderator-1"),
                           ids[1]: ("dismiss", "a true store fact", "moderator-1")}
        assert s.scalar(select(AuditLog).where(AuditLog.action == "flag.confirm")).entity_id == ids[0]

    # a second moderator opening a flag the first one holds sees who has it, and no buttons
    page.goto(f"{server}/ui/flags/{ids[2]}")
    page.wait_for_selector("#decide")
    other = browser.new_context()
    p2 = other.new_page()
    p2.goto(server + "/ui/login")
    p2.fill("#key", keys["moderator2"])
    p2.click("#signin")
    p2.goto(f"{server}/ui/flags/{ids[2]}")
    assert "moderator-1" in p2.locator("#conflict").inner_text()
    assert p2.locator("#decide").count() == 0
    other.close()
    ctx.close()


def test_review_page_refuses_other_roles_and_cross_site_posts(client, keys, sessions):
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/login"
    r = client.post("/ui/login", data={"key": keys["regulator"]}, follow_redirects=False)
    assert r.status_code == 401
    r = client.get("/ui", headers=auth(keys["regulator"]), follow_redirects=False)
    assert r.status_code == 403
    rec = scanned_recording(sessions)
    fid = client.post("/flags/ingest", json={"recording_id": rec.id}, headers=auth(keys["ingest"])).json()["created"][0]
    r = client.post(f"/ui/flags/{fid}/decision", data={"decision": "confirm", "reason": "x"},
                    headers={**auth(keys["moderator"]), "origin": "http://evil.example"}, follow_redirects=False)
    assert r.status_code == 403
    with sessions() as s:
        assert s.get(Flag, fid).status == "open"
