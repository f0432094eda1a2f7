"""Bad input gets a 4xx with a message, never a 500; big bodies 413; /metrics; /healthz."""

import pytest

from tests.serve.builders import scanned_recording
from tests.serve.conftest import auth


def test_malformed_json_and_wrong_types(client, keys):
    h = {**auth(keys["moderator"]), "content-type": "application/json"}
    r = client.post("/flags/1/decision", content=b'{"decision": "confirm", "reason": ', headers=h)
    assert r.status_code == 422 and "JSON" in r.text
    r = client.post("/flags/1/decision", json={"decision": "maybe", "reason": "x"}, headers=h)
    assert r.status_code == 422 and "confirm" in r.text
    r = client.post("/flags/1/decision", json={"decision": "confirm", "reason": 5}, headers=h)
    assert r.status_code == 422
    r = client.post("/flags/1/decision", json=["not", "an", "object"], headers=h)
    assert r.status_code == 422
    r = client.post("/flags/1/decision", json={"decision": "confirm", "reason": "x", "extra": 1}, headers=h)
    assert r.status_code == 422 and "extra" in r.text.lower()
    r = client.get("/flags/abc", headers=h)
    assert r.status_code == 422
    r = client.get("/flags/99999999999999999999", headers=h)
    assert r.status_code == 422
    r = client.get("/flags", params={"limit": 0}, headers=h)
    assert r.status_code == 422
    r = client.get("/flags", params={"since": "yesterday"}, headers=h)
    assert r.status_code == 422


@pytest.mark.parametrize("path", ["/flags/999999", "/streams/999999", "/streamers/999999", "/blacklist/999999",
                                  "/evidence/999999", "/streamers/999999/history"])
def test_unknown_ids_are_404_with_a_message(client, keys, path):
    r = client.get(path, headers=auth(keys["admin"]))
    assert r.status_code == 404 and "not found" in r.json()["detail"]


def test_unknown_ids_in_bodies(client, keys):
    r = client.post("/streams", json={"url": "rtmp://x/1", "platform": "douyin", "streamer_id": 424242},
                    headers=auth(keys["admin"]))
    assert r.status_code == 404 and "streamer 424242" in r.json()["detail"]
    r = client.post("/flags/ingest", json={"recording_id": 424242}, headers=auth(keys["ingest"]))
    assert r.status_code == 404


def test_nul_bytes_and_odd_strings_are_not_500(client, keys):
    """PostgreSQL text cannot hold NUL: every database refuses it at the boundary, naming the field."""
    h = auth(keys["admin"])
    r = client.post("/streamers", json={"display_name": "a\x00b"}, headers=h)
    assert r.status_code == 422 and "display_name" in r.text and "NUL" in r.text
    r = client.post("/streams", json={"url": "rtmp://x/1", "platform": "douyin", "listing": {"title": "t\x00"}},
                    headers=h)
    assert r.status_code == 422 and "listing.title" in r.text and "NUL" in r.text


def test_oversized_body_is_413(client, keys, settings):
    big = b'{"display_name": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    r = client.post("/streamers", content=big, headers={**auth(keys["admin"]), "content-type": "application/json"})
    assert r.status_code == 413 and "bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    r = client.post("/streamers", content=chunks(), headers={**auth(keys["admin"]), "content-type": "application/json"})
    assert r.status_code == 413


def test_stream_register_start_stop(client, keys):
    h = auth(keys["admin"])
    s = client.post("/streams", json={"url": "rtmp://live.example/room1", "platform": "douyin",
                                      "listing": {"title": "tea"}}, headers=h).json()
    assert s["monitoring"] == "stopped"
    assert client.post(f"/streams/{s['id']}/start", headers=h).json()["monitoring"] == "monitoring"
    assert client.post(f"/streams/{s['id']}/start", headers=h).status_code == 409
    page = client.get("/streams", params={"monitoring": "monitoring"}, headers=auth(keys["regulator"])).json()
    assert [x["id"] for x in page["data"]] == [s["id"]]
    assert client.post(f"/streams/{s['id']}/stop", headers=h).json()["monitoring"] == "stopped"


def test_metrics_and_health(client, keys, sessions):
    scanned_recording(sessions)
    assert client.get("/healthz").json() == {"status": "ok"}
    client.get("/flags/999999", headers=auth(keys["moderator"]))
    r = client.get("/metrics", headers=auth(keys["admin"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert '# TYPE liveguard_http_requests_total counter' in text
    assert 'liveguard_http_requests_total{method="GET",route="/flags/{flag_id}",status="404"} 1' in text
    assert "liveguard_http_request_duration_seconds_bucket" in text and "liveguard_evidence_chain_length 0" in text
    assert client.get("/metrics", headers=auth(keys["moderator"])).status_code == 403


def test_a_nul_in_a_query_value_is_refused_on_every_database(client, keys):
    r = client.get("/audit", params={"entity": "x\x00y"}, headers=auth(keys["admin"]))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "entity"], r.text
    r = client.get("/flags", params={"label": "\x00"}, headers=auth(keys["moderator"]))
    assert r.status_code == 422 and "NUL" in r.text


def test_times_in_queries_are_rfc3339_with_a_zone(client, keys):
    """The document says date-time: Unix seconds or a time without its zone are refused, not guessed."""
    h = auth(keys["moderator"])
    for bad in ("13", "-43663", "2026-11-30T12:00:00", "2026-11-30"):
        r = client.get("/flags", params={"since": bad}, headers=h)
        assert r.status_code == 422 and "RFC 3339" in r.text, (bad, r.text)
    for good in ("2026-11-30T12:00:00Z", "2026-11-30T20:00:00.5+08:00"):
        assert client.get("/flags", params={"until": good}, headers=h).status_code == 200
