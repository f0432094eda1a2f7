"""Schemathesis walks the OpenAPI document with generated valid and invalid requests, using a key
of an allowed role for each operation, and runs every check it has (no 5xx, status codes,
content types, headers and bodies as documented, schema-valid requests accepted, invalid ones
rejected), on SQLite and PostgreSQL: none may fail.

One exemption, stated here and in the README: POST /gallery takes photos that must each show
exactly one face, a condition no schema can state, so a schema-valid upload of random bytes is
rightly refused (422 naming the file); schemathesis's "schema-valid data must be accepted" check is
off for that operation only.

`LIVEGUARD_FUZZ_EXAMPLES` (per operation and mode) makes the run deeper; `scripts/api_conformance.py`
prints a per-check count for a long run."""

from __future__ import annotations

import os

import pytest

from tests.serve.builders import scanned_recording, streamer_with_stream
from tests.serve.conftest import auth

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES = int(os.environ.get("LIVEGUARD_FUZZ_EXAMPLES", 10))
NO_POSITIVE_ACCEPTANCE = {"POST /gallery"}  # content the schema cannot describe: a photo of one face


def conformance_failures(app, keys, examples: int) -> tuple[int, int, list[tuple]]:
    """(operations, requests, failures): each failure (operation, mode, check, status, message, body, query)."""
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, n_ops, n_requests = [], 0, 0
    for result in schema.get_all_operations():
        op = result.ok()
        roles = op.definition.raw.get("x-roles")
        headers = auth(keys[roles[0]]) if roles else {}
        excluded = [positive_data_acceptance] if op.label in NO_POSITIVE_ACCEPTANCE else []
        n_ops += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(max_examples=examples, database=None, deadline=None, derandomize=True,
                                 suppress_health_check=list(hypothesis.HealthCheck),
                                 phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
            @hypothesis.given(case=op.as_strategy(generation_mode=mode))
            def run(case):
                nonlocal n_requests
                n_requests += 1
                resp = case.call(headers=headers)
                try:
                    case.validate_response(resp, excluded_checks=excluded)
                except BaseException as exc:  # schemathesis raises a FailureGroup (a BaseExceptionGroup)
                    for sub in getattr(exc, "exceptions", [exc]):
                        failures.append((op.label, mode.value, type(sub).__name__, resp.status_code,
                                         " ".join(str(sub).split())[:1200], repr(case.body)[:400], case.query))

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass  # no invalid request exists for this operation (e.g. no parameters at all)
    return n_ops, n_requests, failures


def test_generated_requests_conform_to_the_openapi_document(app, client, keys, sessions):
    rec = scanned_recording(sessions)
    _, stream_id = streamer_with_stream(sessions)
    client.post("/flags/ingest", json={"recording_id": rec.id, "stream_id": stream_id}, headers=auth(keys["ingest"]))
    n_ops, n_requests, failures = conformance_failures(app, keys, EXAMPLES)
    assert n_ops >= 25 and n_requests >= 10 * n_ops
    distinct = sorted({f[:4] for f in failures})
    assert distinct == [], "\n".join(map(str, [f for f in failures if f[:4] in set(distinct[:10])][:10]))
