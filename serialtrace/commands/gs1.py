"""``serialtrace gs1 make|parse|link|ai|dictionary``: GS1 codes as JSON.

``make`` builds a unit's codes, ``parse`` reads any code form, ``link`` builds a GS1 Digital
Link from HRI text (refusing AIs a link cannot carry), ``ai`` shows dictionary entries and
``dictionary`` regenerates (or checks) the AI table from the packaged Barcode Syntax
Dictionary.

JSON is printed with ASCII escapes, so the GS separator shows as ``\\u001d``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

import gs1
from serialtrace.cli import CliError

_FORMS = "element string (with or without ]d2/]C1/]Q3/…), HRI, Digital Link or EPC URI"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("gs1", help="make and parse GS1 codes (GTIN, SSCC, …)")
    commands = parser.add_subparsers(dest="gs1_command", metavar="COMMAND", required=True)

    make = commands.add_parser(
        "make",
        help="print every form of a unit's code as JSON",
        description="Build a unit code and print its element string, DataMatrix data, HRI, "
        "Digital Link and (with --gcp-length) EPC URIs as JSON.",
    )
    make.add_argument("--gtin", required=True, help="GTIN-8, -12, -13 or -14")
    make.add_argument("--serial", help="serial number, 1-20 characters of GS1 CSET 82")
    make.add_argument("--lot", help="batch/lot, 1-20 characters of GS1 CSET 82")
    make.add_argument("--expiry", help="expiry as YYMMDD (day 00 allowed) or YYYY-MM-DD")
    _add_common(make)
    make.set_defaults(handler=_make)

    parse = commands.add_parser(
        "parse",
        help="read any GS1 code form and print what it identifies as JSON",
        description=f"Read DATA: {_FORMS}. '-' reads one line from standard input.",
    )
    parse.add_argument("data", metavar="DATA", help=f"{_FORMS}; '-' for stdin")
    _add_common(parse)
    parse.set_defaults(handler=_parse)

    link = commands.add_parser(
        "link",
        help="build a GS1 Digital Link from HRI text",
        description="Print the GS1 Digital Link of HRI text such as '(01)…(10)…(17)…'; "
        "AIs a Digital Link cannot carry are refused, listed.",
    )
    link.add_argument("hri", metavar="HRI", help="'(AI)value(AI)value…'")
    link.add_argument(
        "--domain", default=gs1.DEFAULT_DOMAIN, help="Digital Link domain (default: %(default)s)"
    )
    link.add_argument("--compressed", action="store_true", help="print the compressed Digital Link")
    link.set_defaults(handler=_link)

    ai = commands.add_parser(
        "ai",
        help="show GS1 Barcode Syntax Dictionary entries as JSON",
        description="Print the dictionary entry of each AI: title, format, linters, "
        "separator, association rules, Digital Link role.",
    )
    ai.add_argument("ais", metavar="AI", nargs="+", help="Application Identifier, e.g. 01")
    ai.set_defaults(handler=_ai)

    dictionary = commands.add_parser(
        "dictionary",
        help="regenerate the AI table from the packaged Syntax Dictionary",
        description="Rewrite gs1/_table.py from gs1/data/gs1-syntax-dictionary.txt "
        "(python -m gs1.dictionary); --check only compares.",
    )
    dictionary.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    dictionary.set_defaults(handler=_dictionary)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gcp-length", metavar="N", help="GS1 company prefix length (6-12), for EPC URIs"
    )
    parser.add_argument(
        "--domain", default=gs1.DEFAULT_DOMAIN, help="Digital Link domain (default: %(default)s)"
    )


def _make(args: argparse.Namespace) -> int:
    cpl = _company_prefix_length(args.gcp_length)
    try:
        code = gs1.UnitCode.create(
            gtin=args.gtin, serial=args.serial, lot=args.lot, expiry=_expiry(args.expiry)
        )
        document = describe(code, company_prefix_length=cpl, domain=args.domain)
    except gs1.Gs1Error as exc:
        raise CliError(str(exc)) from exc
    _print(document)
    return 0


def _parse(args: argparse.Namespace) -> int:
    cpl = _company_prefix_length(args.gcp_length)
    data = sys.stdin.readline() if args.data == "-" else args.data
    try:
        reading = gs1.read(data)
        document: dict[str, Any] = {
            "input_form": reading.form.value,
            "symbology_identifier": reading.symbology_identifier,
        }
        if cpl is None:
            cpl = reading.company_prefix_length
        document |= describe(reading.code, company_prefix_length=cpl, domain=args.domain)
        document["add_on"] = reading.add_on
        document["elements"] = [
            {
                "ai": ai,
                "title": gs1.BY_AI[ai].title if ai in gs1.BY_AI else None,
                "value": value,
            }
            for ai, value in reading.elements
        ]
    except gs1.Gs1Error as exc:
        raise CliError(str(exc)) from exc
    _print(document)
    return 0


def _link(args: argparse.Namespace) -> int:
    try:
        elements = gs1.parse_hri(args.hri)
        gs1.check_rules(elements)
        if args.compressed:
            print(gs1.compress_digital_link(elements, args.domain))
        else:
            print(gs1.digital_link_from_elements(elements, args.domain))
    except gs1.Gs1Error as exc:
        raise CliError(str(exc)) from exc
    return 0


def _ai(args: argparse.Namespace) -> int:
    entries = []
    for ai in args.ais:
        entry = gs1.BY_AI.get(ai)
        if entry is None:
            raise CliError(f"ai: expected an AI of the GS1 Barcode Syntax Dictionary, got {ai!r}")
        entries.append(
            {
                "ai": entry.ai,
                "title": entry.title,
                "format": entry.format,
                "components": [
                    {"format": c.notation, "linters": list(c.linters)} for c in entry.components
                ],
                "separator_required": entry.fnc1_required,
                "digital_link_attribute": entry.dl_data_attribute,
                "digital_link_qualifiers": None
                if entry.dl_qualifiers is None
                else [list(q) for q in entry.dl_qualifiers],
                "rules": list(entry.rules),
            }
        )
    _print({"dictionary_commit": gs1.DICTIONARY_COMMIT, "entries": entries})
    return 0


def _dictionary(args: argparse.Namespace) -> int:
    from gs1.dictionary import main

    return main(["--check"] if args.check else [])


def describe(
    code: gs1.Code, *, company_prefix_length: int | None, domain: str = gs1.DEFAULT_DOMAIN
) -> dict[str, Any]:
    """Every form of ``code`` as a JSON-ready dict (EPC URIs only with a prefix length)."""
    epc: dict[str, str] = {}
    if isinstance(code, gs1.UnitCode):
        document: dict[str, Any] = {
            "kind": "unit",
            "gtin": code.gtin.value,
            "serial": code.serial,
            "lot": code.lot,
            "expiry": None if code.expiry is None else code.expiry.isoformat(),
            "expiry_yymmdd": None if code.expiry is None else code.expiry.yymmdd(),
            "extra": {ai: value for ai, value in code.extra},
            "element_string": code.element_string(),
            "datamatrix_data": code.datamatrix_data(),
            "hri": code.hri(),
            "digital_link": code.digital_link(domain),
        }
        if company_prefix_length is not None:
            if code.serial is not None:
                epc["sgtin"] = code.sgtin_uri(company_prefix_length)
            if code.lot is not None:
                epc["lgtin"] = code.lgtin_uri(company_prefix_length)
    elif isinstance(code, gs1.Sscc):
        document = {
            "kind": "sscc",
            "sscc": code.value,
            "extension_digit": code.extension_digit,
            "element_string": code.element_string(),
            "hri": code.hri(),
            "digital_link": code.digital_link(domain),
        }
        if company_prefix_length is not None:
            epc["sscc"] = gs1.sscc_uri(code, company_prefix_length)
    else:
        document = {
            "kind": "gln",
            "gln": code.value,
            "element_string": code.element_string(),
            "hri": code.hri(),
            "digital_link": code.digital_link(domain),
        }
        if company_prefix_length is not None:
            epc["sgln"] = gs1.sgln_uri(code, company_prefix_length)
    document["company_prefix_length"] = company_prefix_length
    document["epc"] = epc
    return document


def _company_prefix_length(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and 6 <= int(text) <= 12):
        raise CliError(f"gcp-length: expected an integer 6 to 12, got {text!r}")
    return int(text)


def _expiry(text: str | None) -> str | gs1.Expiry | None:
    if text is None or "-" not in text:
        return text
    try:
        return gs1.Expiry.from_date(dt.date.fromisoformat(text))
    except ValueError as exc:
        raise CliError(f"expiry: expected YYMMDD or YYYY-MM-DD, got {text!r}") from exc


def _print(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=True))
