"""The HMI's own routes over HTTP: the page and assets, the line, rejects and their images."""

from __future__ import annotations

import time

import pytest

from tests.edge.agent.line import GTIN
from tests.edge.hmi.conftest import LiveLine

pytestmark = pytest.mark.mqtt


def test_page_assets_and_redirects(live: LiveLine) -> None:
    client = live.client
    root = client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/hmi/")
    page = client.get("/hmi/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/hmi/static/hmi.js" defer></script>' in page.text
    script = client.get("/hmi/static/hmi.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for name in ("router.py", "..%2Frouter.py", "missing.css"):
        missing = client.get(f"/hmi/static/{name}")
        assert missing.status_code == 404
    assert client.get("/hmi/static/missing.css").json() == {
        "error": "asset: no file 'missing.css' in the HMI"
    }


def test_line_lists_the_configured_products(live: LiveLine) -> None:
    assert live.client.get("/hmi/api/line").json() == {
        "site": "plant1",
        "line": "line3",
        "products": [{"gtin": GTIN, "name": "Paracetamol 500 mg"}],
        "outbox_alarm_depth": 10_000,
        "trigger": "timer",
        "rule_lots": False,  # no [server]: lots and expiries are typed
    }


def test_rejects_carry_reasons_and_saved_camera_images(live: LiveLine) -> None:
    client = live.client
    assert client.get("/hmi/api/rejects").json() == {"lot": None, "units": [], "reasons": {}}
    started = client.post(
        "/batch/start", json={"gtin": GTIN, "lot": "R1", "expiry": "281130", "planned": 40}
    )
    assert started.status_code == 200, started.text
    deadline = time.monotonic() + 20
    while client.get("/status").json()["reconciliation"]["rejected"] < 3:
        assert time.monotonic() < deadline, "no rejects from the simulated line"
        time.sleep(0.2)
    assert client.post("/batch/stop").status_code == 200
    assert live.agent.pipeline.wait_idle(10)

    rejects = client.get("/hmi/api/rejects", params={"limit": 2}).json()
    rejected = live.agent.read(
        lambda conn: conn.execute(
            "SELECT serial FROM units WHERE state = 'rejected' ORDER BY updated_at DESC, id DESC"
        ).fetchall()
    )
    assert rejects["lot"] == "R1"
    assert [u["serial"] for u in rejects["units"]] == [row[0] for row in rejected[:2]]
    assert rejects["reasons"] == {"no_read": len(rejected)}
    unit = rejects["units"][0]
    assert (unit["gtin"], unit["state"], unit["reason"], unit["image"]) == (
        GTIN,
        "rejected",
        "no_read",
        True,
    )
    image = client.get(f"/hmi/api/units/{GTIN}/{unit['serial']}/image")
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")

    good = live.agent.read(
        lambda conn: conn.execute(
            "SELECT serial FROM units WHERE state = 'commissioned' LIMIT 1"
        ).fetchone()[0]
    )
    no_image = client.get(f"/hmi/api/units/{GTIN}/{good}/image")
    assert (no_image.status_code, no_image.json()) == (
        404,
        {"error": f"image: no camera image was saved for serial {good!r}"},
    )
    unknown = client.get(f"/hmi/api/units/{GTIN}/NOPE/image")
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": f"serial: no unit with GTIN {GTIN!r} and serial 'NOPE'"},
    )
    assert client.get("/hmi/api/rejects", params={"limit": 0}).status_code == 422

    assert client.post("/batch/close").status_code == 200
    assert client.get("/hmi/api/rejects").json()["lot"] is None
