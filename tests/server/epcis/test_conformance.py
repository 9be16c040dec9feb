"""Conformance with GS1's OpenAPI document of the EPCIS 2.0 REST bindings (not the
server's own), measured by schemathesis against the running server on both engines.

Every operation of GS1's document is called with generated parameters, headers and bodies
(as an admin, so that requests reach the handlers), and every answer must conform to the
document: no server error, a status code the operation declares, a declared media type, a
body valid against the declared schema, the declared headers. Bounded: a few examples per
operation, derandomized, no shrinking. GS1's document is loaded offline
(``gs1_openapi.gs1_document``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

import epcis
from tests.server.epcis.conftest import Live
from tests.server.epcis.gs1_openapi import gs1_document

MAX_EXAMPLES = 6
# Where GS1's document lists no 400 answer although the standard requires one: a query
# parameter or query definition the standard says to refuse with a QueryParameterException
# (section 8.2.7: GET /events, the collections' paging, POST /queries with an invalid
# query) or a capture/subscription body to refuse with a ValidationException. Only a 400 of
# exactly these types is let through there; every other answer is checked as declared.
STANDARD_400 = {
    "epcisException:QueryParameterException",
    "epcisException:ValidationException",
    "epcisException:SubscriptionControlsException",
}

HTTP = httpx.Client(timeout=60)  # a busy machine answers slowly, never wrongly


@schemathesis.check
def status_code_conforms(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> bool | None:
    """``status_code_conformance``, but for the 400 answers the standard requires where GS1's
    document omits them (see STANDARD_400)."""
    if response.status_code == 400:
        try:
            kind = json.loads(response.content).get("type")
        except ValueError:
            kind = None
        if kind in STANDARD_400:
            return True
    return status_code_conformance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conforms,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Path parameters GS1's document declares as URIs with an example that is none, so that
# schemathesis cannot generate any: an operation with one is called with this value instead
# (hypothesis, asked anyway, gave up Unsatisfiable after 3.5-6 s per operation, about 19 s per
# engine for the four /dispositions/{disposition} operations, having called nothing).
EXAMPLES = {"disposition": "in_progress"}
EXAMPLE_ONLY_OPERATIONS = 4
Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def fuzz(operation: Operation, base_url: str, headers: dict[str, str]) -> bool:
    """Call ``operation`` with generated cases, or, when a path parameter is one of
    EXAMPLES, once with the example values; whether it was the latter."""
    names = [parameter.name for parameter in operation.path_parameters]
    if any(name in EXAMPLES for name in names):
        case = operation.Case(path_parameters={name: EXAMPLES[name] for name in names})
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
        return True

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    run()
    return False


def seed(live: Live, refdata: Path) -> int:
    """GS1's valid JSON examples captured, and the named query of GS1's examples, so that
    answers hold real events (which must then validate against GS1's schemas)."""
    captured = 0
    for path in sorted((refdata / "epcis" / "examples").glob("*.jsonld")):
        document = json.loads(path.read_text())
        if document.get("type") != "EPCISDocument" or epcis.validate_document(document):
            continue
        response = HTTP.post(
            live.epcis + "/capture",
            content=json.dumps(document),
            headers={**live.headers["device"], "Content-Type": "application/json"},
        )
        assert response.status_code == 202, response.text
        captured += 1
    query = {
        "name": "myQuery",
        "query": {"eventType": ["ObjectEvent"], "EQ_bizStep": ["receiving"]},
    }
    response = HTTP.post(live.epcis + "/queries", json=query, headers=live.headers["qa"])
    assert response.status_code == 201, response.text
    return captured


@pytest.mark.slow
def test_every_operation_of_gs1_document_conforms(live: Live, refdata: Path) -> None:
    assert seed(live, refdata) > 30
    api = schemathesis.openapi.from_dict(gs1_document(refdata))
    failures: list[str] = []
    operations = example_only = 0
    for result in api.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"unreadable operation: {result.err()}")
            continue
        operation = result.ok()
        operations += 1
        try:
            example_only += fuzz(operation, live.epcis, live.headers["admin"])
        except BaseException as exc:  # a FailureGroup
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {exc}")
    assert operations == 63  # every operation of GS1's document
    assert not failures, f"{len(failures)} operations fail:\n\n" + "\n\n".join(failures)
    assert example_only == EXAMPLE_ONLY_OPERATIONS  # the others were all generated
