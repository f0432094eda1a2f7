"""The review page in a real browser (Debian's chromium, driven by Playwright) against a real
uvicorn server on 127.0.0.1: sign in, open a flag, confirm and dismiss, check the database."""

from __future__ import annotations

import os
from pathlib import Path
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


def _sign_in(browser, server, key):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.goto(server + "/ui/login")
    page.fill("#key", key)
    page.click("#signin")
    page.wait_for_selector("#queue, #empty")
    return ctx, page


def test_streamer_blacklist_and_overview_pages(browser, server, client, keys, sessions, settings, tmp_path):
    """A day's work beyond the queue: a streamer confirmed three times is blacklisted; the streamer
    page shows the flags, decisions, sanctions and entry on one timeline; the blacklist page lists
    the entry and the appeal, which another moderator decides there (the confirming one may not);
    the overview charts flags per day, label and platform and the queue's age. Screenshots go to
    LIVEGUARD_SCREENSHOTS (docs/screenshots in the README) or the test's temp dir."""
    shots = Path(os.environ.get("LIVEGUARD_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    rec = scanned_recording(sessions)
    streamer_id, stream_id = streamer_with_stream(sessions, name="Wang Fang")
    ids = sorted(client.post("/flags/ingest", json={"recording_id": rec.id, "stream_id": stream_id},
                             headers=auth(keys["ingest"])).json()["created"])
    other = scanned_recording(sessions, source="room2.mp4", sha="b" * 64)  # stays in the queue, unattributed
    client.post("/flags/ingest", json={"recording_id": other.id}, headers=auth(keys["ingest"]))
    for fid in ids:
        r = client.post(f"/flags/{fid}/decision", json={"decision": "confirm", "reason": f"heard it ({fid})"},
                        headers=auth(keys["moderator"]))
        assert r.status_code == 200
    entry_id = r.json()["blacklist_entry_id"]
    assert entry_id
    r = client.post(f"/blacklist/{entry_id}/appeals", json={"statement": "The tea was mislabelled by a supplier.",
                                                             "filed_by": "Wang Fang"}, headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text

    ctx, page = _sign_in(browser, server, keys["moderator"])
    page.goto(f"{server}/ui/streamers/{streamer_id}")
    page.wait_for_selector("#timeline")
    assert page.inner_text("#streamer-name").startswith("Wang Fang")
    assert page.inner_text("#streamer-status") == "blacklisted"
    kinds = page.locator("#timeline .badge").all_inner_texts()
    assert kinds.count("flag") == 3 and kinds.count("decision") == 3 and "blacklist" in kinds and "appeal" in kinds
    assert "sanction" in kinds
    page.screenshot(path=str(shots / "streamer.png"), full_page=True)

    # the moderator who confirmed the flags cannot decide the appeal: said on the page
    page.click("#nav-blacklist")
    page.wait_for_selector("#appeals")
    assert page.locator(f'tr.entry[data-entry-id="{entry_id}"]').count() == 1
    row = page.locator("tr.appeal-pending").first
    row.locator("input[name=reason]").fill("supplier documents checked")
    row.locator("button[value=grant]").click()
    page.wait_for_selector("#error")
    assert "someone other than the reviewer" in page.inner_text("#error")
    ctx.close()
    ctx, page = _sign_in(browser, server, keys["moderator2"])
    page.goto(server + "/ui/blacklist")
    row = page.locator("tr.appeal-pending").first
    row.locator("input[name=reason]").fill("supplier documents checked")
    row.locator("button[value=grant]").click()
    page.wait_for_selector("tr.appeal-granted")
    assert page.locator(f'tr.entry-lifted[data-entry-id="{entry_id}"]').count() == 1
    page.screenshot(path=str(shots / "blacklist.png"), full_page=True)

    page.click("#nav-overview")
    page.wait_for_selector("#per-label")
    assert page.inner_text("#open-count") == "3"  # the unattributed recording's flags
    assert page.locator("#per-label rect").count() >= 2 and page.locator("#per-platform rect").count() == 2
    assert "medical_claim_non_drug" in page.locator("#per-label").text_content()
    assert page.inner_text("#oldest").endswith(" h")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    ctx.close()


def test_api_docs_render_with_no_network_beyond_the_service(browser, server):
    """Swagger UI and ReDoc come from files the service ships (fastapi-offline's), not a CDN."""
    ctx = browser.new_context()
    outside = []
    ctx.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
              if not route.request.url.startswith(server) else route.continue_())
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock")  # operations rendered from /openapi.json
    assert page.locator(".opblock").count() >= 25
    page.goto(server + "/redoc")
    page.wait_for_selector("[data-section-id]")
    # ReDoc's bundle links its own "API docs by Redocly" badge image; the page works without it
    assert [u for u in outside if u != "https://cdn.redoc.ly/redoc/logo-mini.svg"] == []
    ctx.close()


def _recording_red_from_10s(path: Path) -> Path:
    """20 s of picture that is black before 10 s and red from 10 s, with a tone: where a still or
    the player lands is visible in the pixels."""
    import subprocess

    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=black:s=320x240:r=25:d=20,format=yuv444p,geq=lum='if(gte(T,10),81,16)':"
                    "cb='if(gte(T,10),90,128)':cr='if(gte(T,10),240,128)'",
                    "-f", "lavfi", "-i", "sine=f=440:d=20", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True, timeout=60)
    return path


def test_flag_page_opens_the_clip_at_the_claim_and_shows_what_was_on_screen(browser, server, client, keys, sessions,
                                                                              settings, tmp_path):
    """A clip cut 8-16 s around a claim at 10-12 s: the player starts at the claim (not at 0:00),
    and the stills are the picture at the claim's start, middle and end (red, not the black before)."""
    import cv2
    import numpy as np

    from ingest.recorder import Segment, clip_span, cut_clip

    source = _recording_red_from_10s(tmp_path / "room.mp4")
    clip = cut_clip([Segment(str(source), 1, 0.0, 20.0, "file")], 8.0, 16.0, Path(settings.clip_roots[0]) / "c.mp4")
    span = clip_span(clip)
    # a remux starts at a keyframe at or before 8 s (or the segment's start): the note says where
    from ingest.decode import probe

    assert span is not None and 0.0 <= span[0] <= 8.0 and span[1] == 16.0
    assert abs((span[1] - span[0]) - probe(clip).duration_s) < 0.1
    _, stream_id = streamer_with_stream(sessions)
    fid = client.post("/flags", json={"label": "medical_claim_non_drug", "t0": 10.0, "t1": 12.0, "score": 0.9,
                                      "evidence": "cures diabetes", "decided_by": "rule:t@1", "stream_id": stream_id,
                                      "clip_path": str(clip)}, headers=auth(keys["ingest"])).json()["id"]
    h = auth(keys["moderator"])
    for i in range(3):
        r = client.get(f"/ui/flags/{fid}/still/{i}.jpg", headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        b, g, red = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR).reshape(-1, 3).mean(0)
        assert red > 150 and g < 60 and b < 60, (i, b, g, red)  # the picture during the claim
    assert client.get(f"/ui/flags/{fid}/still/3.jpg", headers=h).status_code == 404

    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.goto(server + "/ui/login")
    page.fill("#key", keys["moderator"])
    page.click("#signin")
    page.goto(f"{server}/ui/flags/{fid}")
    page.wait_for_selector("#clip")
    page.wait_for_function("document.querySelector('#clip').readyState >= 1")
    at = page.evaluate("document.querySelector('#clip').currentTime")
    assert abs(at - (10.0 - span[0])) < 0.1, (at, span)
    assert "Opens at the claim" in page.locator("#clip-at").inner_text()
    page.wait_for_function("[...document.querySelectorAll('#stills img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("#stills img").count() == 3
    ctx.close()
