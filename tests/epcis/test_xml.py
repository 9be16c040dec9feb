"""EPCIS 2.0 and 1.2 XML codecs against GS1's examples and XSDs (``epcis.xml``,
``epcis.xml12``).

Every GS1 XML example that is an EPCIS document decodes to a JSON-LD document; every one
(and every GS1 JSON example that validates against the JSON Schema) encodes to 2.0 XML and
to 1.2 XML that GS1's XSDs accept, and decodes back to the same events. The comparison
normalises only what XML cannot tell apart: a one-element list and its element, an empty
list and no list, 26 and 26.0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import epcis
from epcis import xml, xml12
from tests.epcis.examples import REFDATA

XML_EXAMPLES = sorted(p.name for p in (REFDATA / "epcis" / "examples-xml").glob("*.xml"))
JSON_EXAMPLES = sorted(p.name for p in (REFDATA / "epcis" / "examples").glob("*.jsonld"))
MASTER_DATA_DOCUMENTS = {  # EPCISMasterDataDocument: vocabularies, no events
    "CBV__CBV-11.4-2020-06-16a.xml",
    "Mimasu__Example-masterData.xml",
}
MASTER_DATA_ONLY = {
    *MASTER_DATA_DOCUMENTS,
    "WithFullCombinationOfFields__masterdata_all_possible_fields.xml",
}
NOT_EVENT_DOCUMENTS = {  # capture jobs: no EPCISDocument
    "CaptureJob__Example-CaptureJobRunning.xml",
    "CaptureJob__Example-CaptureJobSuccess.xml",
    "CaptureJob__Example-CaptureJobWithErrorFile.xml",
    "CaptureJob__Example-CaptureJobWithErrors.xml",
}


def normal(value: Any) -> Any:
    """``value`` with what XML cannot carry normalised away (see the module docstring)."""
    if isinstance(value, dict):
        items = {k: normal(v) for k, v in value.items() if k != "@context"}
        return {k: v for k, v in items.items() if v is not None}
    if isinstance(value, list):
        items = [normal(v) for v in value]
        if not items:
            return None
        return items[0] if len(items) == 1 else items
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def events(document: dict[str, Any]) -> Any:
    return normal(document["epcisBody"]["eventList"])


@pytest.mark.parametrize("name", XML_EXAMPLES)
def test_gs1_xml_examples_decode_and_round_trip(name: str) -> None:
    payload = (REFDATA / "epcis" / "examples-xml" / name).read_bytes()
    if name in NOT_EVENT_DOCUMENTS:
        with pytest.raises(xml.XmlError):
            xml.decode_any(payload)
        return
    document = xml.decode_any(payload)
    assert document["type"] == "EPCISDocument"
    if name not in MASTER_DATA_ONLY:
        assert document["epcisBody"]["eventList"]
    for version in ("2.0", "1.2"):
        encoded = xml.encode_document(document, version=version)
        xml.parse(encoded)  # valid against GS1's XSD of that version
        assert events(xml.decode_any(encoded)) == events(document), version


@pytest.mark.parametrize("name", sorted(MASTER_DATA_ONLY))
def test_gs1_master_data_decodes_to_the_json_binding_and_survives_2_0_xml(name: str) -> None:
    """Master data (an EPCISMasterDataDocument's body, an EPCISDocument's header) is kept:
    the JSON binding's ``epcisHeader.epcisMasterData`` with ids, attributes and children."""
    document = xml.decode_any((REFDATA / "epcis" / "examples-xml" / name).read_bytes())
    assert epcis.validate_document(document) == []
    vocabularies = document["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    elements = [item for v in vocabularies for item in v.get("vocabularyElementList", [])]
    assert elements and all(item["id"] for item in elements)
    assert any(item.get("attributes") for item in elements)
    again = xml.decode_any(xml.encode_document(document, version="2.0"))
    assert again["epcisHeader"] == document["epcisHeader"]


def test_master_data_children_and_typed_attributes() -> None:
    document = xml.decode_any(
        (REFDATA / "epcis" / "examples-xml" / "Mimasu__Example-masterData.xml").read_bytes()
    )
    (locations, *_rest) = document["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    assert locations["type"] == "urn:epcglobal:epcis:vtype:BusinessLocation"
    site = locations["vocabularyElementList"][0]
    assert site["id"] == "urn:epc:id:sgln:0037000.00729.0"
    assert site["children"] == [f"urn:epc:id:sgln:0037000.00729.820{n}" for n in (1, 2, 3)]
    address = next(a for a in site["attributes"] if a["id"].endswith("address"))
    assert address["attribute"]["example:Address"]["City"] == "Fancy"


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_gs1_json_examples_survive_xml(name: str) -> None:
    document = json.loads((REFDATA / "epcis" / "examples" / name).read_text())
    if document.get("type") != "EPCISDocument" or epcis.validate_document(document):
        pytest.skip("not a valid EPCISDocument (GS1 ships some invalid examples on purpose)")
    for version in ("2.0", "1.2"):
        encoded = xml.encode_document(document, version=version)
        xml.parse(encoded)
        assert events(xml.decode_any(encoded)) == events(document), version


def test_decoded_documents_validate_against_the_json_schema() -> None:
    """Most GS1 XML examples decode to documents the JSON Schema accepts; the exceptions
    are examples with measurement types the JSON Schema does not list, or persistent
    dispositions on event types where the JSON Schema does not allow them."""
    refused = []
    for name in XML_EXAMPLES:
        if name in NOT_EVENT_DOCUMENTS:
            continue
        document = xml.decode_any((REFDATA / "epcis" / "examples-xml" / name).read_bytes())
        if epcis.validate_document(document):
            refused.append(name)
    assert refused == [
        "Example-PersistentDisposition.xml",
        "WithExtension__TransactionEvent.xml",
        "WithSensorData__SensorDataExamples.xml",
    ]


def query_document(events_: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-01-01T00:00:00Z",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "subscriptionID": "s1",
                "resultsBody": {"eventList": events_},
            }
        },
    }


def test_query_documents_validate_in_both_versions(refdata: Path) -> None:
    document = json.loads(
        (refdata / "epcis" / "examples" / "Example_9.6.1-ObjectEvent.jsonld").read_text()
    )
    answer = query_document(document["epcisBody"]["eventList"])
    for encoded in (xml.encode_query_document(answer), xml12.encode_query_document(answer)):
        root = xml.parse(encoded)
        assert root.tag.endswith("EPCISQueryDocument")
        assert events(xml.decode_any(encoded)) == events(document)


def test_1_2_layout() -> None:
    """EPCIS 1.2 puts eventID in baseExtension, quantities in extension, TransformationEvent
    in the event list's extension, and writes CBV URNs."""
    event = {
        "type": "ObjectEvent",
        "eventTime": "2025-01-01T00:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "eventID": "urn:uuid:1",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.1"],
        "quantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.107346.L1", "quantity": 2}],
    }
    transformation = {
        "type": "TransformationEvent",
        "eventTime": "2025-01-01T00:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": ["urn:epc:id:sgtin:0614141.107346.2"],
    }
    text = xml12.encode_document(
        {
            "type": "EPCISDocument",
            "creationDate": "2025-01-01T00:00:00Z",
            "epcisBody": {"eventList": [event, transformation]},
        }
    ).decode()
    assert 'xmlns:epcis="urn:epcglobal:epcis:xsd:1"' in text
    assert "<baseExtension><eventID>urn:uuid:1</eventID></baseExtension>" in text
    assert "<bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>" in text
    assert "<extension><quantityList>" in text
    assert "<extension><TransformationEvent>" in text
    assert events(xml12.decode(text.encode())) == normal([event, transformation])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not xml", "document: expected well-formed XML, got:"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "document: expected XML without entity declarations, got some",
        ),
        (b"<x xmlns='urn:other'/>", "document: expected an EPCIS 2.0 or 1.2 document"),
        (
            b"<e:EPCISDocument xmlns:e='urn:epcglobal:epcis:xsd:2' schemaVersion='2.0'"
            b" creationDate='2025-01-01T00:00:00Z'><EPCISBody><EventList><ObjectEvent>"
            b"<eventTime>yesterday</eventTime></ObjectEvent></EventList></EPCISBody>"
            b"</e:EPCISDocument>",
            "document: expected a document valid against GS1's XSD, got line 1:",
        ),
    ],
)
def test_bad_xml_is_refused_with_the_reason(payload: bytes, message: str) -> None:
    with pytest.raises(xml.XmlError) as caught:
        xml.decode_any(payload)
    assert str(caught.value).startswith(message)


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    payload = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY s SYSTEM "file://{secret}">]>'
        "<e:EPCISDocument xmlns:e='urn:epcglobal:epcis:xsd:2'>&s;</e:EPCISDocument>"
    ).encode()
    with pytest.raises(xml.XmlError) as caught:
        xml.decode_any(payload)
    assert "TOP SECRET" not in str(caught.value)


TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
).filter(lambda t: all(ord(c) >= 0x20 or c in "\t\n\r" for c in t) and t == t.strip())


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(TEXT, st.booleans(), st.integers(-(10**9), 10**9)),
    lot=TEXT.filter(bool),
    version=st.sampled_from(["2.0", "1.2"]),
)
def test_extension_values_round_trip(value: Any, lot: str, version: str) -> None:
    """Hostile and typed extension values survive XML: text (any XML character), booleans
    and numbers (by xsi:type)."""
    event = {
        "type": "ObjectEvent",
        "eventTime": "2025-01-01T00:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.1"],
        "ilmd": {"cbvmda:lotNumber": lot},
        "ex:value": value,
    }
    document = {
        "@context": [{"ex": "https://example.com/ns/"}],
        "type": "EPCISDocument",
        "creationDate": "2025-01-01T00:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
    decoded = xml.decode_any(xml.encode_document(document, version=version))
    [back] = decoded["epcisBody"]["eventList"]
    assert back["ilmd"] == {"cbvmda:lotNumber": lot}
    assert back["ex:value"] == value and type(back["ex:value"]) is type(value)
    assert {"ex": "https://example.com/ns/"} in decoded["@context"]


DSCSA_12 = b"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1"
    xmlns:sbdh="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
    xmlns:cbvmda="urn:epcglobal:cbv:mda" xmlns:gs1ushc="http://epcis.gs1us.org/hc/ns"
    schemaVersion="1.2" creationDate="2025-07-15T20:15:49.056Z">
  <EPCISHeader>
    <sbdh:StandardBusinessDocumentHeader>
      <sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>
      <sbdh:Sender><sbdh:Identifier Authority="GLN">0614141000005</sbdh:Identifier></sbdh:Sender>
      <sbdh:Receiver>
        <sbdh:Identifier Authority="GLN">4012345000009</sbdh:Identifier>
      </sbdh:Receiver>
      <sbdh:DocumentIdentification>
        <sbdh:Standard>EPCglobal</sbdh:Standard>
        <sbdh:TypeVersion>1.0</sbdh:TypeVersion>
        <sbdh:InstanceIdentifier>100002</sbdh:InstanceIdentifier>
        <sbdh:Type>Events</sbdh:Type>
        <sbdh:CreationDateAndTime>2025-07-15T20:15:49.056Z</sbdh:CreationDateAndTime>
      </sbdh:DocumentIdentification>
    </sbdh:StandardBusinessDocumentHeader>
    <extension>
      <EPCISMasterData>
        <VocabularyList>
          <Vocabulary type="urn:epcglobal:epcis:vtype:EPCClass">
            <VocabularyElementList>
              <VocabularyElement id="urn:epc:idpat:sgtin:0614141.107346.*">
                <attribute id="urn:epcglobal:cbv:mda#regulatedProductName">Aspirin</attribute>
              </VocabularyElement>
            </VocabularyElementList>
          </Vocabulary>
        </VocabularyList>
      </EPCISMasterData>
    </extension>
  </EPCISHeader>
  <EPCISBody>
    <EventList>
      <ObjectEvent>
        <eventTime>2025-07-15T20:00:00.000Z</eventTime>
        <eventTimeZoneOffset>-05:00</eventTimeZoneOffset>
        <epcList><epc>urn:epc:id:sgtin:0614141.107346.1001</epc></epcList>
        <action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
        <disposition>urn:epcglobal:cbv:disp:active</disposition>
        <readPoint><id>urn:epc:id:sgln:0614141.00001.0</id></readPoint>
        <extension>
          <ilmd>
            <cbvmda:lotNumber>LOT42</cbvmda:lotNumber>
            <cbvmda:itemExpirationDate>2027-06-30</cbvmda:itemExpirationDate>
          </ilmd>
        </extension>
        <gs1ushc:dscsaTransactionStatement>true</gs1ushc:dscsaTransactionStatement>
      </ObjectEvent>
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>
"""


def test_a_dscsa_1_2_document() -> None:
    """What US DSCSA partners send: EPCIS 1.2 with an SBDH and master data in the header
    (not events: not part of the JSON-LD document), ILMD in the event's extension, a GS1 US
    extension element."""
    document = xml.decode_any(DSCSA_12)
    [event] = document["epcisBody"]["eventList"]
    assert event["bizStep"] == "commissioning" and event["disposition"] == "active"
    assert event["ilmd"] == {"cbvmda:lotNumber": "LOT42", "cbvmda:itemExpirationDate": "2027-06-30"}
    assert event["gs1ushc:dscsaTransactionStatement"] == "true"
    assert {"gs1ushc": "http://epcis.gs1us.org/hc/ns"} in document["@context"]
    assert not epcis.validate_document(document)
    again = xml12.encode_document(document)
    assert events(xml12.decode(again)) == events(document)
