"""Every route in the OpenAPI document needs a key (401) and refuses other roles (403)."""

import re

import pytest
from fastapi.testclient import TestClient

from serve.app import create_app
from serve.auth import ROLES
from tests.serve.conftest import auth

PUBLIC = {("get", "/healthz")}


def _operations(app):
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)


def test_every_operation_declares_roles(app):
    missing = [(m, p) for m, p, op in _operations(app) if (m, p) not in PUBLIC and not op.get("x-roles")]
    assert missing == []


def test_every_route_needs_a_key_and_the_right_role(client, app, keys):
    checked = 0
    for method, path, op in _operations(app):
        if (method, path) in PUBLIC:
            assert client.request(method, _url(path)).status_code == 200
            continue
        r = client.request(method, _url(path), json={})
        assert r.status_code == 401, (method, path, r.text)
        r = client.request(method, _url(path), json={}, headers=auth("lg_not-a-real-key"))
        assert r.status_code == 401, (method, path, r.text)
        for role in set(ROLES) - set(op["x-roles"]):
            r = client.request(method, _url(path), json={}, headers=auth(keys[role]))
            assert r.status_code == 403, (method, path, role, r.text)
        for role in op["x-roles"]:
            r = client.request(method, _url(path), json={}, headers=auth(keys[role]))
            assert r.status_code not in (401, 403, 500), (method, path, role, r.text)
        checked += 1
    assert checked >= 25


def test_role_rules_from_the_issue(app):
    ops = {(m, p): set(op.get("x-roles", ())) for m, p, op in _operations(app)}
    # regulators cannot write
    assert not [k for k, roles in ops.items() if k[0] != "get" and "regulator" in roles]
    # moderators cannot see API keys
    assert not [k for k, roles in ops.items() if k[1].startswith("/keys") and "moderator" in roles]
    assert "regulator" in ops[("get", "/blacklist")] and "regulator" in ops[("get", "/blacklist/export")]
    # `monitor --from-service` reads the stream list with an ingest key
    assert "ingest" in ops[("get", "/streams")]


def test_revoked_key_is_refused(client, keys):
    r = client.get("/keys", headers=auth(keys["admin"]))
    mod = next(k for k in r.json() if k["name"] == "moderator-1")
    assert "key_hash" not in mod and "token" not in mod
    assert client.post(f"/keys/{mod['id']}/revoke", headers=auth(keys["admin"])).status_code == 200
    assert client.get("/flags", headers=auth(keys["moderator"])).status_code == 401


def test_created_key_works_and_only_its_hash_is_stored(client, keys, sessions):
    r = client.post("/keys", json={"name": "Regulator X", "role": "regulator"}, headers=auth(keys["admin"]))
    assert r.status_code == 201
    token = r.json()["token"]
    assert client.get("/blacklist", headers=auth(token)).status_code == 200
    assert client.get("/blacklist", headers={"X-API-Key": token}).status_code == 200
    from sqlalchemy import select

    from serve.tables import ApiKey

    with sessions() as s:
        stored = [k.key_hash for k in s.scalars(select(ApiKey))]
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_rate_limit_per_key(settings, engine, keys):
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}), engine=engine, start_workers=False)
    with TestClient(app) as c:
        codes = [c.get("/blacklist", headers=auth(keys["regulator"])).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/blacklist", headers=auth(keys["regulator"]))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert c.get("/blacklist", headers=auth(keys["moderator"])).status_code == 200  # another key
