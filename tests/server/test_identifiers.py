"""One identifier parser: gs1, the event hash and the server agree, and ingest refuses what
gs1 refuses (dead letter with the reason), on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

import epcis._canonical_id
import gs1
import server.identifiers
from epcis._canonical_id import canonical_gs1_uri
from gs1.identifiers import parse_identifier
from server.identifiers import UnitKey, canonical, parse_sscc, parse_unit, refusal
from server.ingest.prepare import Origin
from server.ingest.service import Ingestor
from server.store import read_transaction
from server.store.schema import dead_letters, events, units
from tests.server import factory as f

MQTT = Origin("mqtt", "site1", "line2")
REPO = Path(__file__).resolve().parents[2]

PREFIXES = st.sampled_from(
    [
        "urn:epc:id:sgtin:0614141.107346.",
        "urn:epc:id:sgtin:",
        "urn:epc:id:sscc:0614141.",
        "urn:epc:class:lgtin:0614141.107346.",
        "urn:epc:idpat:sgtin:0614141.",
        "urn:epc:id:sgln:0614141.07346.",
        "urn:epc:id:grai:0614141.12345.",
        "https://id.gs1.org/01/10614141073464/21/",
        "https://id.gs1.org/01/10614141073464/10/",
        "https://id.gs1.org/00/",
        "https://example.com/dl/01/",
        "https://id.gs1.org/01/10614141073464?",
        "http://[",
        "urn:example:",
    ]
)
BODIES = st.lists(
    st.sampled_from(
        [*"0123456789ABCxyz.%/?&=#+-_~!'()*,:;<>\"@$ \x00\x1dé€", "%2F", "%2f", "%25", "%41",
         "%80", "%7E", "*", "106141412345678908", "0614141073467"]
    ),
    max_size=24,
).map("".join)  # fmt: skip


def _gs1(text: str) -> tuple[str, object]:
    try:
        return "ok", parse_identifier(text)
    except gs1.Gs1Error as exc:
        return "refused", str(exc)


@settings(max_examples=400)
@given(prefix=PREFIXES, body=BODIES)
@example(prefix="urn:epc:id:sgtin:0614141.107346.", body="A~B")
@example(prefix="urn:epc:id:sgtin:0614141.107346.", body="A%80B")
@example(prefix="urn:epc:id:sgtin:0614141.107346.", body="A%2FB")
@example(prefix="https://id.gs1.org/01/10614141073464/21/", body="A%2FB")
def test_every_entry_point_agrees(prefix: str, body: str) -> None:
    text = prefix + body
    verdict, identifier = _gs1(text)
    # The server refuses exactly what gs1 refuses, with gs1's reason.
    assert (refusal(text) is not None) == (verdict == "refused")
    if verdict == "refused":
        assert refusal(text) == identifier
        assert parse_unit(text) is None and parse_sscc(text) is None
        if text.startswith("urn:epc:"):  # no legacy forms for EPC URIs: the hash agrees
            assert canonical_gs1_uri(text) is None
        return
    if identifier is None:  # not GS1 at all: kept as received everywhere
        assert canonical_gs1_uri(text) is None and canonical(text) == text
        return
    assert isinstance(identifier, gs1.identifiers.IdentifierUri)
    hashed = canonical_gs1_uri(text)
    unit = parse_unit(text)
    ais = identifier.ais
    if identifier.kind == "id" and ais[:1] == ("01",) and "21" in ais:
        assert unit == UnitKey(identifier.elements[0].value, identifier.value("21") or "")
        assert canonical(text) == unit.key
        # The hash names the same unit: read its canonical URI back with gs1.
        assert hashed is not None
        link = gs1.parse_digital_link(hashed)
        assert (link.path[0].value, dict(link.path).get("21")) == (unit.gtin, unit.serial)
    else:
        assert unit is None
    if identifier.elements:
        assert hashed is not None
        assert hashed.startswith(f"https://id.gs1.org/{identifier.elements[0].ai}/")


def test_legacy_digital_links_are_hashed_but_refused_at_ingest() -> None:
    uri = "https://example.com/01/9780345418913/10/L1/21/S1"
    assert canonical_gs1_uri(uri) == "https://id.gs1.org/01/09780345418913/21/S1"
    assert refusal(uri) == (
        "gtin: expected 14 digits in a Digital Link path (a GTIN-8, -12 or -13 is written with "
        "leading zeros), got '9780345418913'"
    )


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        (f"urn:epc:id:sgtin:{f.COMPANY_PREFIX}.{f.ITEM_REFERENCE}.A~B", "epcList[1]"),
        (f"urn:epc:id:sgtin:{f.COMPANY_PREFIX}.{f.ITEM_REFERENCE}.A%80B", "epcList[1]"),
        ("https://id.gs1.org/01/10614141073465/21/X", "epcList[1]"),
    ],
)
def test_ingest_dead_letters_identifiers_gs1_refuses(
    store: Engine, ingestor: Ingestor, bad: str, where: str
) -> None:
    event = f.commissioning(["G1"])
    event["epcList"].insert(1, bad)
    outcome = ingestor.ingest_payload(f.payload([event]), MQTT, topic="serialtrace/v1/s/l/events")
    assert not outcome.accepted
    assert outcome.reason == f"eventList[0].{where}: {refusal(bad)}"
    with read_transaction(store) as conn:
        assert conn.execute(select(dead_letters.c.reason)).scalar_one() == outcome.reason
        assert conn.execute(select(func.count()).select_from(units)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 0


def test_ingest_refuses_a_bad_parent_class_and_read_point(ingestor: Ingestor) -> None:
    event = f.packing(f.sscc(1), ["P1"])
    event["parentID"] = f"urn:epc:id:sscc:{f.COMPANY_PREFIX}.12345678"
    outcome = ingestor.ingest_payload(f.payload([event]), MQTT)
    assert outcome.reason is not None and outcome.reason.startswith("eventList[0].parentID: ")
    event = f.packing(f.sscc(2), ["P2"])
    event["readPoint"] = {"id": "urn:epc:id:sgln:0614141.07346.~"}
    outcome = ingestor.ingest_payload(f.payload([event]), MQTT)
    assert outcome.reason is not None and outcome.reason.startswith("eventList[0].readPoint.id: ")


@pytest.mark.parametrize(
    ("field", "entry", "where"),
    [
        ("sourceList", {"type": "owning_party", "source": "urn:epc:id:pgln:9.1"},
         "sourceList[0].source"),
        ("destinationList",
         {"type": "location", "destination": "urn:epc:id:sgln:0614141.07346.~"},
         "destinationList[0].destination"),
        ("bizTransactionList",
         {"type": "po", "bizTransaction": "urn:epc:id:gdti:0614141.00001.A~B"},
         "bizTransactionList[0].bizTransaction"),
        ("destinationList",
         {"type": "owning_party", "destination": "https://id.gs1.org/417/0614141000010"},
         "destinationList[0].destination"),
    ],
)  # fmt: skip
def test_ingest_refuses_bad_parties_and_business_transactions(
    store: Engine, ingestor: Ingestor, field: str, entry: dict[str, str], where: str
) -> None:
    event = f.commissioning(["B1"])
    event[field] = [entry]
    outcome = ingestor.ingest_payload(f.payload([event]), MQTT)
    bad = next(value for key, value in entry.items() if key != "type")
    assert refusal(bad) is not None
    assert outcome.reason == f"eventList[0].{where}: {refusal(bad)}"
    with read_transaction(store) as conn:
        assert conn.execute(select(func.count()).select_from(units)).scalar_one() == 0


def test_valid_and_private_parties_and_business_transactions_are_accepted(
    ingestor: Ingestor,
) -> None:
    event = f.commissioning(["B2"])
    event["sourceList"] = [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}]
    event["destinationList"] = [
        {"type": "location", "destination": "https://id.gs1.org/414/0614141000012/254/7"},
        {"type": "owning_party", "destination": "urn:example:customer:42"},
    ]
    event["bizTransactionList"] = [
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000012:PO-1"},
        {"type": "desadv", "bizTransaction": "urn:epc:id:gdti:0614141.00001.2"},
    ]
    assert ingestor.ingest_payload(f.payload([event]), MQTT).accepted


def test_private_uris_are_still_accepted(ingestor: Ingestor) -> None:
    event = f.commissioning(["Q1"])
    event["epcList"].append("urn:example:private:thing:1")
    event["epcList"].append("https://example.com/things/42")
    assert ingestor.ingest_payload(f.payload([event]), MQTT).accepted


def _names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("module", [epcis._canonical_id, server.identifiers])
def test_old_parsing_paths_are_gone(module: object) -> None:
    """Issue 20: identifiers are parsed in gs1 only. These modules call gs1's one parser and
    hold no parsing of their own: no regular expressions, no check digit, no unescaping."""
    path = Path(module.__file__)  # type: ignore[attr-defined]
    names = _names(path)
    assert "gs1.identifiers.parse_identifier" in names
    assert not names & {"re", "check_digit", "unquote", "urllib.parse.unquote", "compile"}
    assert "_gtin" not in names and "_sscc" not in names


def test_gs1_is_the_only_owner_of_epc_parsing() -> None:
    """No module outside gs1 splits EPC URIs itself."""
    offenders = []
    for folder in ("epcis", "server", "edge", "simulators", "serialtrace"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "urn:epc:id:sgtin:" in text and '.split("."' in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
