"""Property-based tests of the request schemas against SQLite and PostgreSQL: whatever a request
body the schema allows, the service stores exactly what was sent (or refuses it with a 4xx that
names the problem), and the queue's keyset pages give every flag exactly once, whatever the page
size and however many flags share a severity."""

from __future__ import annotations

import itertools
import os
import math

import pytest

from serve.schemas import MAX_STREAM_S, WHITE_SPACE
from tests.serve.builders import streamer_with_stream
from tests.serve.conftest import auth, problem

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

from claims.taxonomy import LABELS  # noqa: E402  (after the skip: loads the claims package)

SETTINGS = dict(max_examples=int(os.environ.get("LIVEGUARD_PROPERTY_EXAMPLES", 40)), database=None, deadline=None, derandomize=True,
                suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture,
                                       hypothesis.HealthCheck.too_slow])

# Any Unicode a client may send in JSON: every plane, combining marks, RTL, blanks; no lone
# surrogates (not valid UTF-8, refused by the boundary: test_bad_values). NUL included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
TIMES = st.one_of(st.floats(0, MAX_STREAM_S, allow_nan=False), st.sampled_from([0.0, 5e-324, 0.0005, 0.0015,
                                                                                 2**31 / 1000, MAX_STREAM_S]))


_rooms = itertools.count()


def strip(s: str) -> str:
    """The boundary strips Unicode White_Space around each string field (not Python's str.strip(),
    which also strips the separators U+001C..U+001F: those are kept)."""
    return s.strip(WHITE_SPACE)


def _ms(x: float) -> int:
    return round(x * 1000)


@hypothesis.settings(**SETTINGS)
@hypothesis.given(label=st.sampled_from(sorted(LABELS)), t0=TIMES, t1=TIMES, score=st.floats(0, 1),
                  evidence=TEXT, segment_text=TEXT, decided_by=TEXT.map(lambda s: s[:200]).filter(strip),
                  severity=st.sampled_from([None, "high", "medium", "low"]),
                  model_ids=st.dictionaries(TEXT.map(lambda s: s[:40]), TEXT.map(lambda s: s[:40]), max_size=4))
def _flag_round_trip(client, keys, stream_id, label, t0, t1, score, evidence, segment_text, decided_by, severity,
                     model_ids):
    body = {"label": label, "t0": t0, "t1": t1, "score": score, "evidence": evidence, "segment_text": segment_text,
            "decided_by": decided_by, "severity": severity, "stream_id": stream_id, "model_ids": model_ids}
    r = client.post("/flags", json=body, headers=auth(keys["ingest"]))
    if any("\x00" in s for s in (evidence, segment_text, decided_by, *model_ids, *model_ids.values())):
        # PostgreSQL text cannot hold NUL: refused on every database alike, naming the field
        assert r.status_code == 422 and "NUL" in problem(r), r.text
        return
    assert r.status_code == 201, (body, r.text)
    got = client.get(f"/flags/{r.json()['id']}", headers=auth(keys["moderator"])).json()
    assert (got["t0_ms"], got["t1_ms"]) == (_ms(min(t0, t1)), _ms(max(t0, t1)))
    assert math.isclose(got["score"], score, rel_tol=1e-12, abs_tol=1e-300)
    assert got["evidence"] == strip(evidence) and got["segment_text"] == strip(segment_text)
    assert got["decided_by"] == strip(decided_by)
    assert got["label"] == label and got["severity"] == (severity or LABELS[label].severity)
    assert got["model_ids"] == model_ids  # free-form values are kept as sent
    assert got["stream_id"] == stream_id and got["status"] == "open"


def test_any_flag_the_schema_allows_is_stored_exactly(client, keys, sessions):
    _, stream_id = streamer_with_stream(sessions)
    _flag_round_trip(client, keys, stream_id)


@hypothesis.settings(**{**SETTINGS, "max_examples": SETTINGS["max_examples"] * 5 // 8})
@hypothesis.given(name=TEXT.map(lambda s: s[:200]).filter(strip),
                  accounts=st.lists(st.tuples(TEXT.map(lambda s: s[:64]).filter(strip),
                                              TEXT.map(lambda s: s[:200]).filter(strip)),
                                    max_size=3, unique_by=lambda a: (strip(a[0]), strip(a[1]))))
def _streamer_round_trip(client, keys, name, accounts):
    body = {"display_name": name, "accounts": [{"platform": p, "account_id": a} for p, a in accounts]}
    r = client.post("/streamers", json=body, headers=auth(keys["admin"]))
    if "\x00" in name or any("\x00" in p + a for p, a in accounts):
        assert r.status_code == 422 and "NUL" in problem(r), r.text
        return
    if r.status_code == 409:  # an account another generated streamer already holds: named, nothing written
        assert "account" in problem(r)
        return
    assert r.status_code == 201, (body, r.text)
    got = client.get(f"/streamers/{r.json()['id']}", headers=auth(keys["moderator"])).json()
    assert got["display_name"] == strip(name)
    assert sorted((a["platform"], a["account_id"]) for a in got["accounts"]) == sorted(
        (strip(p), strip(a)) for p, a in accounts)


def test_any_streamer_the_schema_allows_is_stored_exactly(client, keys):
    _streamer_round_trip(client, keys)


@hypothesis.settings(**{**SETTINGS, "max_examples": SETTINGS["max_examples"] * 3 // 8})
@hypothesis.given(severities=st.lists(st.sampled_from(["high", "medium", "low"]), min_size=0, max_size=30),
                  page=st.integers(1, 7))
def _paging_exactly_once(client, keys, sessions, severities, page):
    platform = f"p{next(_rooms)}"  # each example pages through its own room's flags
    _, stream_id = streamer_with_stream(sessions, platform=platform)
    ids = set()
    for i, sev in enumerate(severities):
        r = client.post("/flags", json={"label": "fake_price", "t0": i, "t1": i + 1, "score": 0.5, "evidence": "e",
                                        "decided_by": "rule:t@1", "severity": sev, "stream_id": stream_id},
                        headers=auth(keys["ingest"]))
        ids.add(r.json()["id"])
    seen, cursor, rank = [], None, {"high": 3, "medium": 2, "low": 1}
    for _ in range(len(severities) // page + 2):  # bounded: no more pages than that can exist
        r = client.get("/flags", params={"limit": page, "platform": platform, **({"cursor": cursor} if cursor else {})},
                       headers=auth(keys["moderator"]))
        assert r.status_code == 200, r.text
        seen += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert cursor is None and sorted(f["id"] for f in seen) == sorted(ids)  # all, each once
    order = [(-rank[f["severity"]], -f["id"]) for f in seen]
    assert order == sorted(order)  # most severe first, newest first within a severity


def test_queue_pages_give_every_flag_exactly_once(client, keys, sessions):
    _paging_exactly_once(client, keys, sessions)
