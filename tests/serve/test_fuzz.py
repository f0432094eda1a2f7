"""Schemathesis walks the OpenAPI document with generated valid and invalid requests, using a key
of an allowed role for each operation: nothing may answer 5xx."""

from __future__ import annotations

import os

import pytest

from tests.serve.builders import scanned_recording, streamer_with_stream
from tests.serve.conftest import auth

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES = int(os.environ.get("LIVEGUARD_FUZZ_EXAMPLES", 12))  # per operation and mode; raise it for a deeper run


def test_no_server_errors_on_generated_requests(app, client, keys, sessions):
    from schemathesis.generation import GenerationMode

    rec = scanned_recording(sessions)
    _, stream_id = streamer_with_stream(sessions)
    client.post("/flags/ingest", json={"recording_id": rec.id, "stream_id": stream_id}, headers=auth(keys["ingest"]))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, n_ops = [], 0
    for result in schema.get_all_operations():
        op = result.ok()
        roles = op.definition.raw.get("x-roles")
        headers = auth(keys[roles[0]]) if roles else {}
        n_ops += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(max_examples=EXAMPLES, database=None, deadline=None, derandomize=True,
                                 suppress_health_check=list(hypothesis.HealthCheck),
                                 phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
            @hypothesis.given(case=op.as_strategy(generation_mode=mode))
            def run(case):
                resp = case.call(headers=headers)
                if resp.status_code >= 500:
                    failures.append((op.label, mode.value, resp.status_code, resp.text[:300]))

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass  # no invalid request exists for this operation (e.g. no parameters at all)
    assert n_ops >= 25
    assert failures == []
