"""Flags: ingest from the scanner's findings, the queue, claim leases and decisions."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from serve.crud import flags_from_recording
from serve.tables import AuditLog, Flag, Review
from tests.serve.builders import scanned_recording, streamer_with_stream, write_clip
from tests.serve.conftest import auth


def _ingest(client, keys, rec, stream_id=None, clip=None):
    body = {"recording_id": rec.id, "stream_id": stream_id}
    if clip:
        body["clip_path"] = str(clip)
    r = client.post("/flags/ingest", json=body, headers=auth(keys["ingest"]))
    assert r.status_code == 200, r.text
    return r.json()


def test_findings_become_flags_once(client, keys, sessions):
    rec = scanned_recording(sessions)
    _, stream_id = streamer_with_stream(sessions)
    first = _ingest(client, keys, rec, stream_id)
    assert len(first["created"]) == 3 and first["existing"] == 0
    again = _ingest(client, keys, rec, stream_id)
    assert again == {"created": [], "existing": 3, "attached": []}
    with sessions() as s:  # the library function is idempotent too
        assert flags_from_recording(s, s.get(type(rec), rec.id)) == ([], 3, [])


def test_ingest_with_a_stream_attaches_the_flags_a_scan_made_without_one(client, keys, sessions):
    """`scan --db` without attribution queues flags with no streamer; naming the stream afterwards
    attaches them (open ones only), and confirming one then drives the sanctions ladder."""
    rec = scanned_recording(sessions)
    with sessions() as s:
        created, _, _ = flags_from_recording(s, s.get(type(rec), rec.id))
        s.commit()
        assert len(created) == 3 and all(f.streamer_id is None for f in created)
    streamer_id, stream_id = streamer_with_stream(sessions)
    got = _ingest(client, keys, rec, stream_id)
    assert got["created"] == [] and got["existing"] == 3 and len(got["attached"]) == 3
    flag = client.get(f"/flags/{got['attached'][0]}", headers=auth(keys["moderator"])).json()
    assert flag["streamer_id"] == streamer_id and flag["stream_id"] == stream_id
    r = client.post(f"/flags/{flag['id']}/decision", json={"decision": "confirm", "reason": "heard it"},
                    headers=auth(keys["moderator"]))
    assert r.status_code == 200 and r.json()["sanctions"], r.text
    assert _ingest(client, keys, rec, stream_id)["attached"] == []  # already attached: nothing again


def test_ingest_by_sha256_and_unknown_recording(client, keys, sessions):
    rec = scanned_recording(sessions)
    r = client.post("/flags/ingest", json={"sha256": rec.sha256}, headers=auth(keys["ingest"]))
    assert r.status_code == 200 and len(r.json()["created"]) == 3
    r = client.post("/flags/ingest", json={"sha256": "b" * 64}, headers=auth(keys["ingest"]))
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    r = client.post("/flags/ingest", json={}, headers=auth(keys["ingest"]))
    assert r.status_code == 422 and "exactly one" in r.json()["detail"][0]["msg"]
    r = client.post("/flags/ingest", json={"sha256": rec.sha256, "recording_id": rec.id}, headers=auth(keys["ingest"]))
    assert r.status_code == 422 and "exactly one" in r.text


def test_queue_order_filters_and_cursor(client, keys, sessions):
    rec = scanned_recording(sessions)
    st, stream_id = streamer_with_stream(sessions)
    _ingest(client, keys, rec, stream_id)
    rec2 = scanned_recording(sessions, source="b.mp4", sha="c" * 64)
    _ingest(client, keys, rec2)
    h = auth(keys["moderator"])
    allq = client.get("/flags", headers=h).json()["data"]
    assert len(allq) == 6
    sev = [f["severity"] for f in allq]
    assert sev == sorted(sev, key=lambda s: {"high": 0, "medium": 1}[s])
    highs = [f["id"] for f in allq if f["severity"] == "high"]
    assert highs == sorted(highs, reverse=True)  # newest first within a severity
    # cursor pages cover everything once
    seen, cursor = [], None
    while True:
        page = client.get("/flags", params={"limit": 4, **({"cursor": cursor} if cursor else {})}, headers=h).json()
        seen += [f["id"] for f in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f["id"] for f in allq]
    assert {f["label"] for f in client.get("/flags", params={"label": "absolute_terms"}, headers=h).json()["data"]} \
        == {"absolute_terms"}
    assert len(client.get("/flags", params={"streamer_id": st}, headers=h).json()["data"]) == 3
    assert len(client.get("/flags", params={"platform": "douyin"}, headers=h).json()["data"]) == 3
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert client.get("/flags", params={"since": future}, headers=h).json()["data"] == []
    assert len(client.get("/flags", params={"until": future}, headers=h).json()["data"]) == 6
    assert client.get("/flags", params={"cursor": "!!bad"}, headers=h).status_code == 422


def test_claim_lease_blocks_a_second_moderator(client, keys, sessions):
    rec = scanned_recording(sessions)
    fid = _ingest(client, keys, rec)["created"][0]
    m1, m2 = auth(keys["moderator"]), auth(keys["moderator2"])
    r = client.post(f"/flags/{fid}/claim", headers=m1)
    assert r.status_code == 200 and r.json()["lease_expires_at"]
    assert client.post(f"/flags/{fid}/claim", headers=m1).status_code == 200  # renewing is fine
    r = client.post(f"/flags/{fid}/claim", headers=m2)
    assert r.status_code == 409 and "moderator-1" in r.json()["detail"]
    r = client.post(f"/flags/{fid}/decision", json={"decision": "dismiss", "reason": "x"}, headers=m2)
    assert r.status_code == 409
    # an expired lease can be taken over
    with sessions() as s:
        s.get(Flag, fid).lease_expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        s.commit()
    assert client.post(f"/flags/{fid}/claim", headers=m2).status_code == 200
    assert client.post("/flags/999999/claim", headers=m2).status_code == 404


def test_decisions_are_audited_and_final(client, keys, sessions):
    rec = scanned_recording(sessions)
    ids = _ingest(client, keys, rec)["created"]
    h = auth(keys["moderator"])
    r = client.post(f"/flags/{ids[1]}/decision", json={"decision": "dismiss", "reason": "lawful store fact"}, headers=h)
    assert r.status_code == 200 and r.json()["flag"]["status"] == "dismissed"
    assert r.json()["evidence_record_id"] is None
    r = client.post(f"/flags/{ids[1]}/decision", json={"decision": "confirm", "reason": "again"}, headers=h)
    assert r.status_code == 409 and "already dismissed" in r.json()["detail"]
    assert client.post(f"/flags/{ids[1]}/claim", headers=h).status_code == 409
    r = client.post(f"/flags/{ids[0]}/decision", json={"decision": "confirm", "reason": "medical claim"}, headers=h)
    assert r.status_code == 200 and r.json()["evidence_record_id"]
    with sessions() as s:
        reviews = s.scalars(select(Review).order_by(Review.id)).all()
        assert [(x.flag_id, x.decision, x.reviewer_name) for x in reviews] == [
            (ids[1], "dismiss", "moderator-1"), (ids[0], "confirm", "moderator-1")]
        log = s.scalars(select(AuditLog).where(AuditLog.action.in_(["flag.dismiss", "flag.confirm"]))
                        .order_by(AuditLog.id)).all()
        assert [(a.actor, a.entity_id, a.details["reason"]) for a in log] == [
            ("moderator-1", ids[1], "lawful store fact"), ("moderator-1", ids[0], "medical claim")]
    assert client.get("/flags", params={"status": "confirmed"}, headers=h).json()["data"][0]["id"] == ids[0]


def test_detector_pushes_its_own_flag(client, keys, sessions, settings):
    _, stream_id = streamer_with_stream(sessions)
    clip = write_clip(settings)
    body = {"label": "ai_impersonation", "t0": 1.5, "t1": 4.0, "score": 0.97, "evidence": "face matches a protected person",
            "decided_by": "vision:face-match@0.1", "stream_id": stream_id, "clip_path": str(clip),
            "model_ids": {"face": "arcface@1"}}
    r = client.post("/flags", json=body, headers=auth(keys["ingest"]))
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["severity"] == "high" and f["platform"] == "douyin" and f["t0_ms"] == 1500
    assert f["legal_basis"].startswith("Live-Commerce")
    bad = client.post("/flags", json={**body, "label": "nonsense"}, headers=auth(keys["ingest"]))
    assert bad.status_code == 422 and "valid labels" in bad.text
    outside = client.post("/flags", json={**body, "clip_path": "/etc/passwd"}, headers=auth(keys["ingest"]))
    assert outside.status_code == 403 and "outside the configured clip roots" in outside.text
    sneaky = client.post("/flags", json={**body, "clip_path": str(clip.parent / ".." / ".." / "x")},
                         headers=auth(keys["ingest"]))
    assert sneaky.status_code == 403
    missing = client.post("/flags", json={**body, "clip_path": str(clip.parent / "gone.mp4")}, headers=auth(keys["ingest"]))
    assert missing.status_code == 404 and "no such file" in missing.text
    # a span given end first is the same span (OpenAPI cannot say t0 <= t1, so it is read, not refused)
    rev = client.post("/flags", json={**body, "t0": 4.0, "t1": 1.5}, headers=auth(keys["ingest"]))
    assert rev.status_code == 201 and (rev.json()["t0_ms"], rev.json()["t1_ms"]) == (1500, 4000), rev.text


def test_concurrent_claims_and_decisions_have_one_winner(client, keys, sessions, settings):
    import threading

    from fastapi import HTTPException

    from serve.auth import Principal
    from serve.crud import claim_flag, decide_flag

    rec = scanned_recording(sessions)
    ids = _ingest(client, keys, rec)["created"]
    people = [Principal(100 + i, f"m{i}", "moderator") for i in range(4)]
    with sessions() as s:  # the principals need key rows for the lease foreign key
        from serve.tables import ApiKey

        for p in people:
            s.add(ApiKey(id=p.key_id, name=p.name, role="moderator", key_hash=f"{p.key_id:064d}", prefix="x"))
        s.commit()

    def race(fn, fid):
        wins, errors = [], []
        barrier = threading.Barrier(len(people))

        def one(p):
            with sessions() as s:
                barrier.wait()
                try:
                    fn(s, fid, p)
                    wins.append(p.name)
                except HTTPException as exc:
                    errors.append(exc.status_code)

        threads = [threading.Thread(target=one, args=(p,)) for p in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return wins, errors

    wins, errors = race(lambda s, fid, p: claim_flag(s, flag_id=fid, who=p, lease_s=60), ids[0])
    assert len(wins) == 1 and errors == [409] * 3
    wins, errors = race(lambda s, fid, p: decide_flag(s, flag_id=fid, decision="confirm", reason="r", who=p,
                                                      settings=settings), ids[1])
    assert len(wins) == 1 and errors == [409] * 3
    with sessions() as s:
        assert len(s.scalars(select(Review).where(Review.flag_id == ids[1])).all()) == 1
