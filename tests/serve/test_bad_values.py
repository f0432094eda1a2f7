"""Values JSON can carry but no column or response can: a 4xx that builds, never a 500, on
SQLite and PostgreSQL; times in BIGINT milliseconds, so a months-long session fits."""

import json

import pytest
from sqlalchemy import inspect

from serve.db import make_engine
from serve.migrate import schema_diff, upgrade
from tests.serve.conftest import auth

FLAG = '{{"label": "fake_price", "t0": {t0}, "t1": 12.5, "score": 0.5, "evidence": "{ev}", "decided_by": "test"}}'


def _post(client, key, path, text):
    return client.post(path, content=text.encode("utf-8", "surrogatepass"),
                       headers={**auth(key), "content-type": "application/json"})


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_a_422_that_says_so(client, keys, number):
    r = _post(client, keys["ingest"], "/flags", FLAG.format(t0=number, ev="x"))
    assert r.status_code == 422, r.text
    assert "finite" in r.text
    json.loads(r.text)  # the error body itself is valid JSON (it used to fail building: a 500)


def test_non_finite_numbers_inside_free_form_fields_are_refused(client, keys):
    streamer = client.post("/streamers", json={"display_name": "Ann"}, headers=auth(keys["admin"])).json()["id"]
    body = json.dumps({"url": "rtmp://127.0.0.1/live/1", "platform": "douyin", "streamer_id": streamer,
                       "listing": {"title": "tea", "price": float("nan")}})
    r = _post(client, keys["admin"], "/streams", body)
    assert r.status_code == 422 and "listing.price" in r.text and "finite" in r.text


def test_a_lone_surrogate_is_a_422_not_a_500(client, keys):
    r = _post(client, keys["admin"], "/streamers", '{"display_name": "\\ud800 host"}')
    assert r.status_code == 422 and "Unicode" in r.text
    r = _post(client, keys["ingest"], "/flags", FLAG.format(t0=1, ev="\\udfff"))
    assert r.status_code == 422 and "Unicode" in r.text
    r = _post(client, keys["admin"], "/streamers", '{"display_name": "ok", "\\ud800": 1}')  # in a key
    assert r.status_code == 422
    json.loads(r.text)


@pytest.mark.parametrize("t0", ["1e16", "1e11"])
def test_times_beyond_any_stream_are_refused(client, keys, t0):
    r = _post(client, keys["ingest"], "/flags", FLAG.format(t0=t0, ev="x"))
    assert r.status_code == 422 and "less than or equal" in r.text


def test_a_session_longer_than_24_8_days_is_stored(client, keys):
    """INTEGER milliseconds end at 2^31 ms = 24.8 days; the columns are BIGINT."""
    t0 = 60 * 24 * 3600.0  # 60 days into a stream
    r = _post(client, keys["ingest"], "/flags", FLAG.format(t0=t0, ev="x").replace("12.5", str(t0 + 4)))
    assert r.status_code == 201, r.text
    got = client.get(f"/flags/{r.json()['id']}", headers=auth(keys["moderator"])).json()
    assert got["t0_ms"] == 5_184_000_000 and got["t1_ms"] == 5_184_004_000


@pytest.mark.parametrize("path", ["/flags", "/streams", "/ui"])
def test_cursors_beyond_the_columns_are_refused_and_any_well_formed_one_pages(client, keys, path):
    """A cursor is "<rank>.<id>" (flags) or "<id>" (streams) of at most 18 digits each: anything
    else is refused naming the cursor (422 from the API, whose OpenAPI pattern says so; 400 from the
    HTML page), and every cursor the pattern allows is a position, however far past the last row."""
    key = keys["admin"] if path == "/streams" else keys["moderator"]
    for raw in ("9" * 19 + ".1", "1." + "9" * 19, "-1.5", "1.2.3", "MS4y", "１.２", ""):
        if not raw and path == "/ui":
            continue  # an empty cursor on the page means the first page
        r = client.get(path, params={"cursor": raw}, headers=auth(key))
        assert r.status_code == (400 if path == "/ui" else 422), (raw, r.status_code, r.text[:300])
        assert "cursor" in r.text
    far = "9" * 18 if path == "/streams" else f"{'9' * 18}.{'9' * 18}"
    r = client.get(path, params={"cursor": far}, headers=auth(key))
    assert r.status_code == 200, r.text[:300]


def test_a_database_made_before_bigint_times_is_upgraded(blank_db_url):
    """Tables as a scanner before revision 0003 created them (INTEGER ms, no version table) are
    recognised and upgraded."""
    engine = make_engine(blank_db_url, create_tables=False)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")  # create_all leaves no version behind
    upgrade(engine)
    with engine.connect() as conn:
        assert schema_diff(conn) == []
        if conn.dialect.name == "postgresql":
            types = {c["name"]: str(c["type"]) for c in inspect(conn).get_columns("flags")}
            assert types["t0_ms"] == "BIGINT"
    engine.dispose()
