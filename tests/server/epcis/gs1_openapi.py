"""GS1's OpenAPI document of the EPCIS 2.0 REST bindings, made loadable offline.

The document refers to schemas it does not hold (``JSON-Schema-Stub.json#/definitions/X``, a
stub whose definitions GS1's tooling injects from the EPCIS JSON Schema) and to example
files by URL. :func:`gs1_document` injects those definitions from GS1's EPCIS JSON Schema in
``shared/refdata`` (as GS1's injector does) and drops the example references (examples are
no part of what a response must conform to).

One correction, to a defect of the document: ``CaptureJob`` ends with ``oneOf`` of
``{properties: {errors}}`` and ``{properties: {errorFile}}``; neither requires its property,
so every object matches both and no capture job (not even GS1's own examples) can conform.
It is read as ``anyOf``, which is what the description says (``errors`` or ``errorFile``).
Nothing else is changed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

STUB = "https://gs1.github.io/EPCIS/REST%20Bindings/JSON-Schema-Stub.json#/definitions/"
PREFIX = "GS1JsonSchema_"


def _rewrite(value: Any, ref_from: str, ref_to: str) -> Any:
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(ref_from):
                result[key] = ref_to + item[len(ref_from) :]
            elif key == "example" and isinstance(item, dict) and set(item) == {"$ref"}:
                continue  # an example file by URL
            elif key in ("$id", "$schema", "$comment"):
                continue
            else:
                result[key] = _rewrite(item, ref_from, ref_to)
        return result
    if isinstance(value, list):
        return [_rewrite(item, ref_from, ref_to) for item in value]
    return value


def gs1_document(refdata: Path) -> dict[str, Any]:
    """GS1's ``openapi.json`` with the stub definitions injected (see the module docstring)."""
    document = json.loads((refdata / "epcis" / "openapi" / "openapi.json").read_text())
    schema = json.loads((refdata / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    document = _rewrite(document, STUB, f"#/components/schemas/{PREFIX}")
    definitions = _rewrite(
        schema["definitions"], "#/definitions/", f"#/components/schemas/{PREFIX}"
    )
    for name, definition in definitions.items():
        document["components"]["schemas"][PREFIX + name] = copy.deepcopy(definition)
    capture_job = document["components"]["schemas"]["CaptureJob"]["allOf"][1]
    capture_job["anyOf"] = capture_job.pop("oneOf")
    return document
