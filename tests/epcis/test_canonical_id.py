"""Canonical ids for the event hash come from gs1's one parser: same rules as ingest."""

from __future__ import annotations

import pytest

from epcis._canonical_id import canonical_gs1_uri


@pytest.mark.parametrize(
    ("uri", "canonical"),
    [
        ("urn:epc:id:sgtin:0614141.112345.A%2FB(1)",
         "https://id.gs1.org/01/10614141123459/21/A%2FB%281%29"),
        ("urn:epc:id:sgtin:0614141.112345.A%2fB", "https://id.gs1.org/01/10614141123459/21/A%2FB"),
        ("https://example.com/x/01/10614141123459/21/A%2FB",
         "https://id.gs1.org/01/10614141123459/21/A%2FB"),
        ("https://id.gs1.org/01/10614141123459/10/L1/21/S1?17=281130",
         "https://id.gs1.org/01/10614141123459/21/S1"),
        ("urn:epc:id:cpi:0614141.5PQ7%2FZ43%23.12345",
         "https://id.gs1.org/8010/06141415PQ7%2FZ43%23/8011/12345"),
        ("urn:epc:idpat:itip:4012345.012345.01.02.*", "https://id.gs1.org/8006/040123451234560102"),
        ("https://id.gs1.org/GhFKk4XBoM5Zye3WuqJRUjUNlhg",
         "https://id.gs1.org/01/09506000134352/21/A1B2C3"),
    ],
)  # fmt: skip
def test_canonical_ids(uri: str, canonical: str) -> None:
    assert canonical_gs1_uri(uri) == canonical


@pytest.mark.parametrize(
    "uri",
    [
        "urn:epc:id:sgtin:0614141.112345.A~B",  # not CSET 82
        "urn:epc:id:sgtin:0614141.112345.A%80B",  # an escape TDS does not allow
        "urn:epc:id:sgtin:0614141.112345.",  # no serial
        "urn:epc:idpat:sgtin:0614141.*.*",  # company prefix only: no key
        "https://id.gs1.org/01/10614141123458/21/S1",  # wrong check digit
        "https://id.gs1.org/01/10614141123459?255=0614141123452",  # 01 excludes 255
        "https://example.com/about",
        "urn:example:thing",
    ],
)
def test_what_gs1_refuses_has_no_canonical_id(uri: str) -> None:
    assert canonical_gs1_uri(uri) is None
