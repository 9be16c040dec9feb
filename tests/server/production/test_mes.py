"""Batch orders from MES over MQTT (a real Mosquitto, the trace server app): created,
released, answered; a reused lot and a malformed message refused with the reason."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from server.api.app import create_app
from tests.server.conftest import settings_for
from tests.server.production.test_production import GTIN, PRODUCT
from tests.support.services import Broker

pytestmark = pytest.mark.mqtt


@pytest.fixture
def served(store: Engine, mosquitto: Broker) -> Iterator[TestClient]:
    settings = settings_for(
        store,
        mqtt_secrets_file=str(mosquitto.secrets("server", f"mes-{store.dialect.name}")),
    )
    with TestClient(create_app(settings, engine=store)) as client:
        deadline = time.monotonic() + 10
        while not client.app.state.mes_orders.connected.is_set():  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "MES subscriber did not connect"
            time.sleep(0.05)
        yield client


def test_mes_orders_over_mqtt(
    served: TestClient, mosquitto: Broker, tokens: dict[str, dict[str, str]]
) -> None:
    qa = tokens["qa"]
    assert served.put(f"/production/products/{GTIN}", json=PRODUCT, headers=qa).status_code == 200
    served.put(
        "/production/lot-rules/plant1/*",
        json={"pattern": "{YY}{MM}{SEQ:3}", "reason": "site rule"},
        headers=qa,
    )
    replies: list[dict[str, object]] = []
    link = mosquitto.link("mes", "plant1", "line3")  # MES may only use line3's order topics
    mes = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="mes-sim")
    link.configure(mes)
    subscribed = threading.Event()
    mes.on_message = lambda _c, _u, message: replies.append(json.loads(message.payload))
    mes.on_subscribe = lambda *_args: subscribed.set()
    mes.connect(link.host, link.port)
    mes.subscribe("serialtrace/v1/plant1/line3/mes/orders/reply", qos=1)
    mes.loop_start()
    try:
        assert subscribed.wait(10), "no SUBACK for the replies"
        topic = "serialtrace/v1/plant1/line3/mes/orders"
        orders = [
            {"number": "MES-1", "gtin": GTIN, "planned": 1000, "release": True},
            {"number": "MES-2", "gtin": GTIN, "planned": 10, "lot": "MES-LOT"},
            {"number": "MES-3", "gtin": GTIN, "planned": 10, "lot": "MES-LOT"},  # reused
            {"number": "MES-4", "gtin": GTIN, "planned": 10, "line": "line9"},
        ]
        for order in orders:
            mes.publish(topic, json.dumps(order), qos=1).wait_for_publish(5)
        mes.publish(topic, b'{"number": "MES-5", "planned": NaN}', qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 20
        while len(replies) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        mes.loop_stop()
        mes.disconnect()
    by_number = {r.get("number"): r for r in replies}
    first = by_number["MES-1"]
    assert first["ok"] is True and first["order"]["state"] == "released"  # type: ignore[index]
    assert first["order"]["lot"].endswith("001")  # type: ignore[index]
    assert by_number["MES-2"]["ok"] is True
    assert by_number["MES-3"] == {
        "number": "MES-3",
        "ok": False,
        "error": by_number["MES-3"]["error"],
    } and str(by_number["MES-3"]["error"]).startswith(
        f"lot: 'MES-LOT' was already used for GTIN {GTIN}"
    )
    assert by_number["MES-4"]["error"] == "line: expected 'line3' (the topic's), got 'line9'"
    assert by_number[None]["error"] == "payload: expected finite numbers, got NaN"
    listed = served.get("/production/orders", params={"line": "line3"}, headers=qa).json()
    assert sorted(o["number"] for o in listed) == ["MES-1", "MES-2"]
