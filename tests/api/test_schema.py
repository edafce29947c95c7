"""Schemathesis over the OpenAPI schema, against its own server, as the administrator (every
route is reachable): whatever the generated request, the answer is never a 5xx and every
error is JSON with a code and a message. Bounded examples per operation (under a minute)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from server import start, stop

EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("schema"), burst=1000, rate=1000.0)
    yield s
    stop(s)


def test_no_generated_request_gets_a_server_error(fuzz_server):
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {fuzz_server.admin}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    seen = []

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def check(case):
            response = case.call(headers=headers)
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])
            if response.status_code >= 400:
                assert set(response.json()["error"]) >= {"code", "message"}, response.text[:300]

        check()
    assert len(seen) >= len(operations)
