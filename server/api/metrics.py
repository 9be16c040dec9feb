"""The trace server's Prometheus metrics, read from the running services at scrape time.

A registry of its own per scrape (no module-level globals: several apps in one process, as
in the tests, never share counters). Names:

==========================================  =========  ====================================
``serialtrace_ingest_messages_total``       counter    documents applied, by ``outcome``
                                                       (``applied``, ``dead_lettered``)
``serialtrace_ingest_events_total``         counter    events stored
``serialtrace_ingest_duplicates_total``     counter    events received again (ignored)
``serialtrace_ingest_conflicts_total``      counter    eventIDs received with other content
``serialtrace_ingest_events_per_second``    gauge      events stored per second, last minute
``serialtrace_ingest_lag_seconds``          gauge      age of the oldest unacknowledged
                                                       MQTT message
``serialtrace_dead_letters_total``          counter    dead letters made, by ``kind``
``serialtrace_dead_letters_stored``         gauge      dead letters kept now, by ``kind``
``serialtrace_mqtt_connected``              gauge      1 while connected and subscribed
``serialtrace_mqtt_up``                     gauge      1 when /health has nothing to say
                                                       about MQTT
``serialtrace_mqtt_session_takeovers_total``  counter  disconnects with reason 0x8E
``serialtrace_mqtt_receiver_starts_total``  counter    receiver processes started
``serialtrace_ingest_worker_restarts_total``  counter  reader/writer threads started again
``serialtrace_ingest_worker_up``            gauge      1 per running worker, by ``worker``
==========================================  =========  ====================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import DBAPIError

from server.dead_letters import KINDS, counts_by_kind
from server.store import read_transaction

if TYPE_CHECKING:
    from server.api.app import Services


class _ServerCollector:
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        services = self.services
        stats = services.ingestor.stats
        with stats.lock:
            applied = stats.messages_applied
            events = stats.events_stored
            duplicates = stats.duplicates
            conflicts = stats.conflicts
            dead = dict(stats.dead_letters)
        messages = CounterMetricFamily(
            "serialtrace_ingest_messages", "EPCIS documents ingested", labels=["outcome"]
        )
        messages.add_metric(["applied"], applied)
        messages.add_metric(["dead_lettered"], sum(dead.values()))
        yield messages
        yield CounterMetricFamily("serialtrace_ingest_events", "events stored", value=events)
        yield CounterMetricFamily(
            "serialtrace_ingest_duplicates", "events received again", value=duplicates
        )
        yield CounterMetricFamily(
            "serialtrace_ingest_conflicts",
            "eventIDs received again with other content",
            value=conflicts,
        )
        yield GaugeMetricFamily(
            "serialtrace_ingest_events_per_second",
            "events stored per second over the last minute",
            value=stats.events_per_second(),
        )
        made = CounterMetricFamily(
            "serialtrace_dead_letters", "dead letters made, by kind", labels=["kind"]
        )
        for kind in sorted({*KINDS, *dead}):
            made.add_metric([kind], dead.get(kind, 0))
        yield made
        try:
            with read_transaction(services.engine) as conn:
                stored = counts_by_kind(conn)
        except DBAPIError:
            stored = None
        if stored is not None:
            kept = GaugeMetricFamily(
                "serialtrace_dead_letters_stored", "dead letters kept, by kind", labels=["kind"]
            )
            for kind in sorted({*KINDS, *stored}):
                kept.add_metric([kind], stored.get(kind, 0))
            yield kept
        mqtt = services.mqtt
        if mqtt is None:
            return
        yield GaugeMetricFamily(
            "serialtrace_ingest_lag_seconds",
            "age of the oldest MQTT message not acknowledged yet",
            value=mqtt.lag_seconds(),
        )
        yield GaugeMetricFamily(
            "serialtrace_mqtt_connected",
            "1 while connected to the broker and subscribed",
            value=1 if mqtt.connected.is_set() else 0,
        )
        yield GaugeMetricFamily(
            "serialtrace_mqtt_up",
            "1 when MQTT ingest has no problem",
            value=0 if mqtt.problems() else 1,
        )
        yield CounterMetricFamily(
            "serialtrace_mqtt_session_takeovers",
            "disconnects because another client took the session (0x8E)",
            value=mqtt.takeovers,
        )
        yield CounterMetricFamily(
            "serialtrace_mqtt_receiver_starts",
            "receiver processes started",
            value=mqtt.receiver_starts,
        )
        yield CounterMetricFamily(
            "serialtrace_ingest_worker_restarts",
            "ingest reader/writer threads started again",
            value=mqtt.worker_restarts,
        )
        workers = GaugeMetricFamily(
            "serialtrace_ingest_worker_up", "1 per running ingest worker", labels=["worker"]
        )
        for name, alive in mqtt.workers_alive().items():
            workers.add_metric([name], 1 if alive else 0)
        yield workers


def render_metrics(services: Services) -> tuple[bytes, str]:
    """The metrics text and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServerCollector(services))
    return generate_latest(registry), CONTENT_TYPE_LATEST
