"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis).

Every operation of ``/openapi.json`` is called with generated parameters and bodies, as an
admin (allowed on every route, so requests get past authentication into the handlers), in
process over ASGI, on both engines. The check: no response is a server error (5xx), i.e.
any input, however hostile, is answered with a 2xx/4xx and never crashes a handler.
Bounded: a few examples per operation, no shrinking of passing runs.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

Operation = schemathesis.APIOperation[Any, Any, Any, Any]

MAX_EXAMPLES = 8  # per operation and engine: the whole module stays well under 60 s


def fuzz(operation: Operation, headers: dict[str, str]) -> None:
    """Call ``operation`` with generated cases; raises on the first server error."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,  # the same cases every run: CI never fails by chance
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the case as found
    )
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()


@pytest.mark.slow  # 32-44 s per engine in CI: handed to a worker early (tests/conftest.py)
def test_no_operation_answers_a_server_error(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    api = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        if isinstance(result, Err):  # an operation schemathesis cannot read is a failure too
            failures.append(f"unreadable operation: {result.err()}")
            continue
        operation = result.ok()
        operations += 1
        try:
            fuzz(operation, tokens["admin"])
        except Exception as exc:  # schemathesis raises a failure group with the case
            failures.append(f"{operation.label}: {exc}")
    assert operations > 10  # the schema was read: every route, not an empty document
    assert not failures, "\n\n".join(failures)
