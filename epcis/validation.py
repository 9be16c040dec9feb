"""Validation against GS1's EPCIS 2.0 JSON Schema (shipped in ``epcis/schema/``).

Three validators are compiled once, lazily, per process:

* a fastjsonschema validator (the schema compiled to Python code) is the authority on
  "is this valid?";
* a jsonschema ``Draft7Validator`` explains failures: every error with the JSON path it is
  at. It only runs (and jsonschema is only imported) for documents the authority rejected;
* a jsonschema-rs validator (compiled Rust) goes first, on the hot path: a document it
  accepts is valid and needs no other check (about 30 times faster than the authority on a
  100-unit document). It is never more lenient than the authority: same schema, patterns
  matched at least as strictly (a trailing newline never matches ``$``), its own RFC 3986
  parser for ``uri`` (stricter than :func:`is_uri`: fuzzed in the tests) and our
  :func:`is_date_time` for ``date-time`` (its own accepts ``202.-03-01T08:00:00Z``).
  Anything it refuses goes to the authority, which decides.

The authority and the explainer check the ``uri`` and ``date-time`` formats with the same
two rules (RFC 3986 URI characters with a scheme; RFC 3339 date-time), which jsonschema
would otherwise skip without its optional format packages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Final

import fastjsonschema
import jsonschema_rs

from epcis._time import RFC3339
from epcis.errors import SchemaValidationError

if TYPE_CHECKING:
    from jsonschema import ValidationError

_URI: Final = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*\Z"
)


def is_uri(value: object) -> bool:
    """RFC 3986 ``URI``: a scheme, ``:``, then only URI characters and %-escapes."""
    return not isinstance(value, str) or _URI.match(value) is not None


def is_date_time(value: object) -> bool:
    """RFC 3339 ``date-time`` that names a real instant."""
    if not isinstance(value, str):
        return True
    if RFC3339.match(value) is None:
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


_FORMATS: Final[dict[str, Callable[[object], bool]]] = {"uri": is_uri, "date-time": is_date_time}


@cache
def schema() -> dict[str, Any]:
    """GS1's EPCIS 2.0 JSON Schema, parsed."""
    text = files("epcis").joinpath("schema/EPCIS-JSON-Schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _fast_validator() -> Callable[[object], object]:
    validate: Callable[[object], object] = fastjsonschema.compile(schema(), formats=dict(_FORMATS))
    return validate


@cache
def _certain_validator() -> Any:
    return jsonschema_rs.validator_for(
        schema(), formats={"date-time": is_date_time}, validate_formats=True
    )


def certainly_valid(doc: object) -> bool:
    """True if ``doc`` is certainly valid (the fast check); False means "ask the authority"."""
    try:
        return bool(_certain_validator().is_valid(doc))
    except Exception:  # a value the Rust side cannot take: the authority decides
        return False


@cache
def _explaining_validator() -> Any:
    from jsonschema import FormatChecker, validators  # only to explain a refusal: not at import

    checker = FormatChecker(formats=())
    for name, check in _FORMATS.items():
        checker.checks(name)(check)
    cls = validators.validator_for(schema())
    return cls(schema(), format_checker=checker)


def _json_path(path: Iterable[str | int]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(error: ValidationError) -> str:
    """The most specific cause of one top-level error, with the JSON path it is at."""
    from jsonschema.exceptions import best_match

    cause = best_match([error])
    path = _json_path(cause.absolute_path)
    if "propertyNames" in cause.absolute_schema_path:
        return (
            f"{path}: field name {cause.instance!r} is not allowed here "
            "(expected a standard EPCIS field or a namespaced extension such as 'ex:name')"
        )
    message = cause.message
    shown = repr(cause.instance)
    if len(shown) > 80:  # jsonschema quotes the whole failing object; keep messages short
        message = message.replace(shown, shown[:60] + "...}" if shown[0] == "{" else "...")
    return f"{path}: {message}"


def validate_document(doc: object) -> list[str]:
    """Schema errors of an EPCIS document (or standalone event) as text; empty when valid."""
    if certainly_valid(doc):
        return []
    try:
        _fast_validator()(doc)
    except fastjsonschema.JsonSchemaException as fast_error:
        errors = list(dict.fromkeys(_describe(e) for e in _explaining_validator().iter_errors(doc)))
        # The two validators agree on GS1's examples and on our own events (tests); should
        # they ever disagree, the fast validator's own message still explains the refusal.
        return errors or [f"$: {fast_error}"]
    return []


def check_document(doc: object) -> None:
    """Raise :class:`SchemaValidationError` listing every error unless ``doc`` is valid."""
    errors = validate_document(doc)
    if errors:
        raise SchemaValidationError(errors)
