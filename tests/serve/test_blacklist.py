"""Sanctions policy on confirm, the blacklist (since cursor, exports), appeals and expiry."""

import csv
import io
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient
from sqlalchemy import select

from serve.app import create_app
from serve.policy import expire_due
from serve.settings import SanctionPolicy
from serve.tables import BlacklistEntry, BlacklistEvent, Streamer
from tests.serve.builders import scanned_recording, streamer_with_stream
from tests.serve.conftest import auth


def _flags(client, keys, sessions, n_claims=3, sha="a" * 64):
    rec = scanned_recording(sessions, sha=sha)
    st, stream_id = streamer_with_stream(sessions)
    r = client.post("/flags/ingest", json={"recording_id": rec.id, "stream_id": stream_id}, headers=auth(keys["ingest"]))
    return st, sorted(r.json()["created"])


def _confirm(client, keys, fid, reason="violation"):
    r = client.post(f"/flags/{fid}/decision", json={"decision": "confirm", "reason": reason},
                    headers=auth(keys["moderator"]))
    assert r.status_code == 200, r.text
    return r.json()


def test_policy_ladder_suspend_then_blacklist(client, keys, sessions):
    st, ids = _flags(client, keys, sessions)
    first = _confirm(client, keys, ids[0])  # high
    assert [s["level"] for s in first["sanctions"]] == ["suspend_stream"] and first["blacklist_entry_id"] is None
    second = _confirm(client, keys, ids[1])  # medium
    assert [s["level"] for s in second["sanctions"]] == ["warning"]
    third = _confirm(client, keys, ids[2])  # high, and the third within 30 days
    assert [s["level"] for s in third["sanctions"]] == ["suspend_stream", "blacklist"]
    entry_id = third["blacklist_entry_id"]
    r = client.get(f"/blacklist/{entry_id}", headers=auth(keys["regulator"]))
    e = r.json()
    assert r.status_code == 200 and e["status"] == "active" and e["streamer_id"] == st
    assert "cure your diabetes" in e["facts"] and "Art. 17" in e["legal_basis"] and e["appeal_route"]
    assert e["duration_days"] == 365 and e["flag_ids"] == ids and len(e["evidence_record_ids"]) == 3
    assert datetime.fromisoformat(e["retain_until"]) - datetime.fromisoformat(e["starts_at"]) >= timedelta(days=4 * 365)
    hist = client.get(f"/streamers/{st}/history", headers=auth(keys["regulator"])).json()
    assert hist["streamer"]["status"] == "blacklisted" and len(hist["confirmed_flags"]) == 3


def test_policy_is_configurable(settings, engine, keys, sessions):
    strict = settings.model_copy(update={"policy": SanctionPolicy(blacklist_after=1, blacklist_days=None)})
    with TestClient(create_app(strict, engine=engine, start_workers=False)) as c:
        _, ids = _flags(c, keys, sessions)
        out = _confirm(c, keys, ids[1])  # a single medium flag now blacklists, indefinitely
        assert out["blacklist_entry_id"]
        e = c.get(f"/blacklist/{out['blacklist_entry_id']}", headers=auth(keys["regulator"])).json()
        assert e["ends_at"] is None and e["duration_days"] is None


def test_since_cursor_export_and_appeal(client, keys, sessions):
    reg = auth(keys["regulator"])
    page = client.get("/blacklist", headers=reg).json()
    assert page == {"data": [], "next_since": 0}
    st, ids = _flags(client, keys, sessions)
    for fid in ids:
        out = _confirm(client, keys, fid)
    entry_id = out["blacklist_entry_id"]
    page = client.get("/blacklist", params={"since": 0}, headers=reg).json()
    assert [e["id"] for e in page["data"]] == [entry_id]
    cursor = page["next_since"]
    assert client.get("/blacklist", params={"since": cursor}, headers=reg).json()["data"] == []

    j = client.get("/blacklist/export", params={"format": "json"}, headers=reg)
    chain = client.get("/evidence/verify", headers=reg).json()
    assert j.status_code == 200 and j.json()["chain_head"] == chain["head"] and j.json()["chain_length"] == 3
    assert j.json()["data"][0]["id"] == entry_id
    c = client.get("/blacklist/export", params={"format": "csv"}, headers=reg)
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert rows[0]["id"] == str(entry_id) and rows[0]["chain_head"] == chain["head"]
    assert c.headers["x-liveguard-chain-head"] == chain["head"]

    # regulators cannot appeal (write); a moderator files for the streamer; an admin decides
    assert client.post(f"/blacklist/{entry_id}/appeals", json={"statement": "s", "filed_by": "x"},
                       headers=reg).status_code == 403
    r = client.post(f"/blacklist/{entry_id}/appeals", json={"statement": "I removed the product", "filed_by": "Host A"},
                    headers=auth(keys["moderator"]))
    assert r.status_code == 201
    appeal_id = r.json()["id"]
    r = client.post(f"/appeals/{appeal_id}/decision", json={"decision": "grant", "reason": "product withdrawn"},
                    headers=auth(keys["admin"]))
    assert r.status_code == 200 and r.json()["status"] == "granted" and r.json()["decided_by"] == "admin-1"
    assert client.post(f"/appeals/{appeal_id}/decision", json={"decision": "reject", "reason": "x"},
                       headers=auth(keys["admin"])).status_code == 409
    # the lift shows up after the cursor; the entry is kept, marked lifted
    page = client.get("/blacklist", params={"since": cursor}, headers=reg).json()
    assert [(e["id"], e["status"]) for e in page["data"]] == [(entry_id, "lifted")]
    assert "appeal" in page["data"][0]["lift_reason"]
    assert client.get(f"/streamers/{st}", headers=reg).json()["status"] == "active"
    with sessions() as s:
        kinds = [e.kind for e in s.scalars(select(BlacklistEvent).order_by(BlacklistEvent.id))]
    assert kinds == ["added", "appealed", "lifted"]
    assert client.get(f"/blacklist/{entry_id}/appeals", headers=reg).json()[0]["status"] == "granted"
    r = client.post(f"/blacklist/{entry_id}/appeals", json={"statement": "again", "filed_by": "x"},
                    headers=auth(keys["moderator"]))
    assert r.status_code == 409


def test_expiry_is_recorded_not_deleted(client, keys, sessions, settings):
    strict = settings.model_copy(update={"policy": SanctionPolicy(blacklist_after=1, blacklist_days=1)})
    from serve.crud import decide_flag
    from serve.auth import Principal

    _, ids = _flags(client, keys, sessions)
    with sessions() as s:
        _, out, _ = decide_flag(s, flag_id=ids[0], decision="confirm", reason="r", who=Principal(1, "moderator-1",
                                "moderator"), settings=strict)
        entry_id = out.blacklist_entry.id
    with sessions() as s:
        assert expire_due(s, now=datetime.now(timezone.utc) + timedelta(days=2)) == 1
    with sessions() as s:
        e = s.get(BlacklistEntry, entry_id)
        assert e.status == "expired" and s.get(Streamer, e.streamer_id).status == "active"
    page = client.get("/blacklist", headers=auth(keys["regulator"])).json()
    assert [(e["id"], e["status"]) for e in page["data"]] == [(entry_id, "expired")]


def test_linked_identity_finds_a_returning_person(client, keys, sessions):
    h = auth(keys["moderator"])
    a = client.post("/streamers", json={"display_name": "A", "accounts": [{"platform": "douyin", "account_id": "1"}]},
                    headers=h).json()
    b = client.post("/streamers", json={"display_name": "B (new account)"}, headers=h).json()
    ident = {"kind": "id_doc_sha256", "value": "f" * 64}
    assert client.post(f"/streamers/{a['id']}/identities", json=ident, headers=h).status_code == 201
    r = client.post(f"/streamers/{b['id']}/identities", json=ident, headers=h)
    assert r.status_code == 409 and f"streamer {a['id']}" in r.json()["detail"]
    r = client.post(f"/streamers/{b['id']}/accounts", json={"platform": "douyin", "account_id": "1"}, headers=h)
    assert r.status_code == 409
    r = client.post(f"/streamers/{b['id']}/accounts", json={"platform": "kuaishou", "account_id": "9"}, headers=h)
    assert r.status_code == 201 and r.json()["accounts"][0]["platform"] == "kuaishou"


def test_exports_signed_with_ed25519(settings, engine, keys, sessions, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from serve.signing import ExportSigner, verify_export

    pem = tmp_path / "export.pem"
    pem.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cfg = settings.model_copy(update={"export_signing_key": pem, "policy": SanctionPolicy(blacklist_after=1)})
    public = ExportSigner(pem).public_key_pem
    with TestClient(create_app(cfg, engine=engine, start_workers=False)) as c:
        _, ids = _flags(c, keys, sessions)
        _confirm(c, keys, ids[0])
        for fmt in ("json", "csv"):
            r = c.get("/blacklist/export", params={"format": fmt}, headers=auth(keys["regulator"]))
            sig = r.headers["x-liveguard-signature-ed25519"]
            assert verify_export(public, r.content, sig)
            assert not verify_export(public, r.content.replace(b"1", b"2", 1), sig)


def test_the_confirming_reviewer_cannot_decide_the_appeal(client, keys, sessions):
    _, ids = _flags(client, keys, sessions)
    for fid in ids:
        out = _confirm(client, keys, fid)  # all confirmed by moderator-1
    appeal = client.post(f"/blacklist/{out['blacklist_entry_id']}/appeals", json={"statement": "s", "filed_by": "A"},
                         headers=auth(keys["moderator2"])).json()
    r = client.post(f"/appeals/{appeal['id']}/decision", json={"decision": "reject", "reason": "r"},
                    headers=auth(keys["moderator"]))
    assert r.status_code == 403 and "someone other" in r.json()["detail"]
    r = client.post(f"/appeals/{appeal['id']}/decision", json={"decision": "reject", "reason": "upheld"},
                    headers=auth(keys["moderator2"]))
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert client.get(f"/blacklist/{out['blacklist_entry_id']}", headers=auth(keys["regulator"])).json()["status"] \
        == "active"


def test_a_slow_transactions_change_still_reaches_a_regulator_who_pulled_past_it(sessions):
    """Two blacklist changes in flight: the one numbered first commits last. The `since` feed must
    deliver both to a regulator who pulled in between (on PostgreSQL a sequence alone lets the
    later number become visible first, and the cursor then skips the slow change for good)."""
    import threading
    import time as _time

    from serve.crud import list_blacklist
    from serve.policy import record_blacklist_change

    with sessions() as s:
        st = Streamer(display_name="Host")
        s.add(st)
        s.flush()
        entries = [BlacklistEntry(streamer_id=st.id, facts="f", legal_basis="b", appeal_route="r",
                                  retain_until=datetime.now(timezone.utc)) for _ in range(2)]
        s.add_all(entries)
        s.commit()
        slow_id, fast_id = (e.id for e in entries)
    numbered, release, errors = threading.Event(), threading.Event(), []

    def slow():
        try:
            with sessions() as s:
                record_blacklist_change(s, slow_id, "lifted")  # numbered now, committed later
                numbered.set()
                release.wait(20)
                s.commit()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            numbered.set()

    def fast():
        try:
            with sessions() as s:
                record_blacklist_change(s, fast_id, "added")
                s.commit()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=slow)]
    threads[0].start()
    assert numbered.wait(20)
    threads.append(threading.Thread(target=fast))
    threads[1].start()
    _time.sleep(0.5)  # long enough for the fast change to commit, if nothing holds it back
    with sessions() as s:  # a regulator pulls while the slow change is still open
        first, cursor = list_blacklist(s, since=0, limit=100)
    release.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with sessions() as s:
        later, _ = list_blacklist(s, since=cursor, limit=100)
    assert {e.id for e in first} | {e.id for e in later} == {slow_id, fast_id}
