"""Server side of the web UI: code resolution, the shell, static files, the redirect."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import gs1
from server.web import ResolvedCode, resolve_code

GTIN = "04012345000016"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"]d201{GTIN}21AB/1%\x1d10L1\x1d17270600",
            ResolvedCode(
                kind="unit",
                form="element_string",
                gtin=GTIN,
                serial="AB/1%",
                lot="L1",
                expiry="2027-06-00",
                page=f"/ui/unit/{GTIN}/AB%2F1%25",
            ),
        ),
        (
            f"(01){GTIN}(17)270630(10)L1(21)S1",
            ResolvedCode(
                kind="unit",
                form="hri",
                gtin=GTIN,
                serial="S1",
                lot="L1",
                expiry="2027-06-30",
                page=f"/ui/unit/{GTIN}/S1",
            ),
        ),
        (
            "urn:epc:id:sgtin:4012345.000001.S1",
            ResolvedCode(
                kind="unit", form="epc_uri", gtin=GTIN, serial="S1", page=f"/ui/unit/{GTIN}/S1"
            ),
        ),
        (
            f"https://id.gs1.org/01/{GTIN}/10/L%2F2",
            ResolvedCode(
                kind="batch",
                form="digital_link",
                gtin=GTIN,
                lot="L/2",
                page=f"/ui/batch/{GTIN}/L%2F2",
            ),
        ),
        (
            "(00)040123450000000016",
            ResolvedCode(
                kind="container",
                form="hri",
                sscc="040123450000000016",
                page="/ui/container/040123450000000016",
            ),
        ),
        (
            GTIN,
            ResolvedCode(kind="product", form="key", gtin=GTIN, page=f"/ui/batches?gtin={GTIN}"),
        ),
    ],
    ids=["scanner-data", "hri", "epc-uri", "digital-link-lot", "sscc", "gtin"],
)
def test_code_forms_resolve_to_their_page(text: str, expected: ResolvedCode) -> None:
    assert resolve_code(text) == expected


@pytest.mark.parametrize("text", ["", "hello", "(01)04012345000017(21)S1", "(00)123"])
def test_non_gs1_text_raises_gs1_error(text: str) -> None:
    with pytest.raises(gs1.Gs1Error):
        resolve_code(text)


def test_resolve_needs_a_reader_token(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    code = {"code": f"(01){GTIN}(21)S1"}
    assert client.get("/ui/resolve", params=code).status_code == 401
    assert client.get("/ui/resolve", params=code, headers=tokens["device"]).status_code == 403
    answer = client.get("/ui/resolve", params=code, headers=tokens["operator"])
    assert answer.status_code == 200
    assert answer.json()["page"] == f"/ui/unit/{GTIN}/S1"


def test_resolve_names_the_bad_input(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    answer = client.get("/ui/resolve", params={"code": "no code"}, headers=tokens["qa"])
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(
        "code: expected a GS1 element string, HRI, Digital Link or EPC URI, got 'no code' ("
    )


def test_root_redirects_to_the_ui(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/ui/"


@pytest.mark.parametrize("path", ["/ui/", "/ui/login", f"/ui/unit/{GTIN}/S1", "/ui/batches"])
def test_every_ui_path_serves_the_shell(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/static/js/app.js">' in answer.text


def test_static_files_are_served_with_their_type(client: TestClient) -> None:
    script = client.get("/ui/static/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/ui/static/app.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    # Encoded: the client would otherwise remove the dot segments before sending.
    "name",
    ["..%2Froutes.py", "js%2F..%2F..%2F__init__.py", "%2Fetc%2Fpasswd", "missing.js", "js"],
)
def test_nothing_outside_static_is_served(client: TestClient, name: str) -> None:
    assert client.get(f"/ui/static/{name}").status_code == 404
