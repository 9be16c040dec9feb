"""Batch orders from MES over MQTT.

MES publishes one order per message on ``serialtrace/v1/{site}/{line}/mes/orders`` (QoS 1):
the JSON of ``POST /production/orders`` without ``site`` and ``line`` (the topic gives them;
if the payload names them too they must agree). The server creates the order (released at
once with ``"release": true``), acknowledges the message only after its commit, and answers
on ``…/mes/orders/reply``: ``{"number": …, "ok": true, "order": {…}}`` or
``{"number": …, "ok": false, "error": "…"}``. A malformed or refused message is answered and
acknowledged, never redelivered for ever; one message never stops the subscriber.

The broker lets MES (``serialtrace broker add-mes SITE LINE``) publish only its line's
``mes/orders`` and read its ``mes/orders/reply``; the server connects for this as
``server/NAME/mes`` (a username of its identity with only these rights, so its client id
never takes over the ingest session).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from epcis import loads_bounded
from epcis.broker import BrokerLink
from epcis.errors import PayloadLimitError, TopicError
from epcis.topics import MES_ORDERS_SUBSCRIPTION, TopicKind, mes_orders_reply_topic, parse_topic
from server.production import orders
from server.production.errors import ProductionError
from server.store import write_transaction

log = logging.getLogger(__name__)

MAX_PAYLOAD = 256 * 1024
MAX_DEPTH = 16


class MesOrders:
    """The MQTT subscriber that turns MES's messages into batch orders."""

    def __init__(self, engine: Engine, link: BrokerLink, *, client_id: str) -> None:
        self.engine = engine
        self.link = link
        self.connected = threading.Event()
        self.created = 0
        self.refused = 0
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=True,
        )
        link.configure(client)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client

    def start(self) -> None:
        self.client.connect_async(self.link.host, self.link.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("MES orders: %s refused the connection: %s", self.link.redacted(), reason)
            return
        client.subscribe(MES_ORDERS_SUBSCRIPTION, qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, granted: Any, *_rest: Any) -> None:
        # Connected once the broker granted the subscription (QoS 0-2; 128 is a refusal).
        codes = [getattr(g, "value", g) for g in granted]
        if any(code >= 128 for code in codes):
            log.error("MES orders: the broker refused the subscription (%s)", codes)
            return
        self.connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            answer, site, line = self.handle(message.topic, bytes(message.payload))
            if site:
                client.publish(mes_orders_reply_topic(site, line), json.dumps(answer), qos=1)
        except Exception:  # one message must never stop the subscriber
            log.exception("MES orders: message on %s failed", message.topic)
        finally:
            client.ack(message.mid, message.qos)

    def handle(self, topic: str, payload: bytes) -> tuple[dict[str, Any], str, str]:
        """Create the order of one message; (the reply, site, line)."""
        try:
            where = parse_topic(topic)
        except TopicError as exc:
            log.warning("MES orders: %s", exc)
            return {"ok": False, "error": str(exc)}, "", ""
        if where.kind is not TopicKind.MES_ORDERS:
            return {"ok": False, "error": f"topic: expected mes/orders, got {topic!r}"}, "", ""
        number = None
        try:
            data = _decode(payload)
            number = data.get("number")
            for field in ("site", "line"):
                given = data.pop(field, getattr(where, field))
                if given != getattr(where, field):
                    raise ProductionError(
                        f"{field}: expected {getattr(where, field)!r} (the topic's), got {given!r}"
                    )
            order = orders.order_from({**data, "site": where.site, "line": where.line})
            with write_transaction(self.engine) as conn:
                created = orders.create(
                    conn,
                    order,
                    actor=f"mes:{where.site}/{where.line}",
                    source="mes",
                    now=datetime.now(UTC),
                )
        except (ProductionError, ValueError) as exc:
            self.refused += 1
            log.warning("MES order refused on %s: %s", topic, exc)
            return {"number": number, "ok": False, "error": str(exc)}, where.site, where.line
        self.created += 1
        return {"number": created["number"], "ok": True, "order": created}, where.site, where.line


def _decode(payload: bytes) -> dict[str, Any]:
    try:
        data = loads_bounded(payload, max_bytes=MAX_PAYLOAD, max_depth=MAX_DEPTH)
    except PayloadLimitError as exc:
        raise ProductionError(str(exc)) from None
    if not isinstance(data, dict):
        raise ProductionError(f"payload: expected a JSON object, got {type(data).__name__}")
    return data
