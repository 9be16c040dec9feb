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
``serialtrace_delivery_contiguous_seq``     gauge      per line (``site``, ``line``): every
                                                       event up to it is stored
``serialtrace_delivery_highest_seq``        gauge      per line: highest sequence number seen
``serialtrace_delivery_missing_events``     gauge      per line: numbers in open gaps
``serialtrace_delivery_open_gaps``          gauge      per line: open gaps
``serialtrace_delivery_oldest_gap_seconds`` gauge      per line: age of its oldest open gap
``serialtrace_delivery_gap_alert``          gauge      per line: 1 while a gap is past the
                                                       alert time
``serialtrace_delivery_duplicates_total``   counter    per line: numbers received again
``serialtrace_delivery_acks_total``         counter    acknowledgements published to lines
==========================================  =========  ====================================
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import DBAPIError

from server import delivery
from server.dead_letters import KINDS, counts_by_kind
from server.store import read_transaction

if TYPE_CHECKING:
    from server.api.app_state import Services


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
        yield from _delivery_metrics(services)
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
        yield CounterMetricFamily(
            "serialtrace_delivery_acks",
            "delivery acknowledgements published to lines",
            value=mqtt.acks_published,
        )


def _delivery_metrics(services: Services) -> Iterator[Metric]:
    """Per-line delivery state (server/delivery.py), read from the store."""
    try:
        with read_transaction(services.engine) as conn:
            states = delivery.line_states(conn, closes=0)
    except DBAPIError:
        return
    now = datetime.now(UTC)
    labels = ["site", "line"]
    families = {
        "contiguous_seq": ("every event of the line up to it is stored", GaugeMetricFamily),
        "highest_seq": ("highest sequence number seen from the line", GaugeMetricFamily),
        "missing_events": ("sequence numbers in the line's open gaps", GaugeMetricFamily),
        "open_gaps": ("open gaps in the line's sequence numbers", GaugeMetricFamily),
        "oldest_gap_seconds": ("age of the line's oldest open gap", GaugeMetricFamily),
        "gap_alert": ("1 while a gap of the line is open past the alert time", GaugeMetricFamily),
        "duplicates": ("sequence numbers received again", CounterMetricFamily),
    }
    made = {
        name: kind(f"serialtrace_delivery_{name}", text, labels=labels)
        for name, (text, kind) in families.items()
    }
    for state in states:
        key = [state.site, state.line]
        made["contiguous_seq"].add_metric(key, state.contiguous)
        made["highest_seq"].add_metric(key, state.highest)
        made["missing_events"].add_metric(key, state.missing)
        made["open_gaps"].add_metric(key, len(state.gaps))
        made["oldest_gap_seconds"].add_metric(key, state.oldest_gap_age_s(now))
        made["gap_alert"].add_metric(key, 1 if any(gap.alerted for gap in state.gaps) else 0)
        made["duplicates"].add_metric(key, state.duplicates)
    yield from made.values()


def render_metrics(services: Services) -> tuple[bytes, str]:
    """The metrics text and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServerCollector(services))
    return generate_latest(registry), CONTENT_TYPE_LATEST
