"""The edge agent's Prometheus metrics (``GET /metrics`` of its local API), read from the
agent at scrape time (a registry of its own per scrape: no module-level globals).

=============================================  =======  ==================================
``serialtrace_edge_outbox_depth``              gauge    events not confirmed by the trace server
``serialtrace_edge_outbox_oldest_age_seconds`` gauge    age of the oldest of them
``serialtrace_edge_outbox_messages_total``     counter  MQTT messages sent
``serialtrace_edge_outbox_events_total``       counter  events sent
``serialtrace_edge_outbox_acked_total``        counter  outbox rows acknowledged (deleted)
``serialtrace_edge_outbox_resends_total``      counter  messages sent again
``serialtrace_edge_delivery_confirmed_seq``    gauge    the server holds every event up to it
``serialtrace_edge_delivery_line_seq``         gauge    the last line sequence number issued
``serialtrace_edge_delivery_confirmed_total``  counter  outbox rows the server confirmed
``serialtrace_edge_delivery_timeouts_total``   counter  times the unconfirmed events were
                                                        sent again after the timeout
``serialtrace_edge_delivery_missing_total``    counter  events sent again because the server
                                                        named them missing
``serialtrace_edge_delivery_bad_acks_total``   counter  server acknowledgements ignored
``serialtrace_edge_mqtt_connected``            gauge    1 per connected link, by ``link``
                                                        (``publisher``, ``plc``)
``serialtrace_edge_mqtt_refused``              gauge    1 while the broker refuses a link
                                                        for good, by ``link``
``serialtrace_edge_plc_errors_total``          counter  PLC messages refused or failed
``serialtrace_edge_alarm``                     gauge    1 per active alarm, by ``alarm``
``serialtrace_edge_units_total``               counter  units by ``outcome`` (triggered,
                                                        printed, commissioned, rejected, …)
``serialtrace_edge_device_up``                 gauge    1 per part that works, 0 if not, by
                                                        ``device`` (``mqtt``: the broker
                                                        link, ``plc``: the PLC link,
                                                        ``printer``, ``camera``, ``case
                                                        printer``, ``scanner``, …)
``serialtrace_edge_device_fault``              gauge    1 per failing part, by ``device``
                                                        and ``fault`` (what is wrong)
``serialtrace_edge_worker_alive``              gauge    1 per running worker thread, 0 if
                                                        dead, by ``worker``
``serialtrace_edge_outbox_max_age_seconds``    gauge    ``outbox.max_age_s``: older events
                                                        fail ``/health``
``serialtrace_edge_mqtt_takeovers_total``      counter  times another client took the
                                                        publisher's session over (0x8E)
``serialtrace_edge_healthy``                   gauge    1 when ``/health`` answers 200
=============================================  =======  ==================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from edge.health import assess

if TYPE_CHECKING:
    from edge.agent import Agent

MAX_FAULT_LABEL = 200  # characters of a fault kept in the ``fault`` label


class _AgentCollector:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        agent = self.agent
        stats = agent.publisher.stats
        yield GaugeMetricFamily(
            "serialtrace_edge_outbox_depth",
            "events not confirmed by the trace server",
            value=stats.depth,
        )
        yield GaugeMetricFamily(
            "serialtrace_edge_outbox_oldest_age_seconds",
            "age of the oldest event waiting",
            value=stats.oldest_age_s,
        )
        for name, value, text in (
            ("messages", stats.messages_sent, "MQTT messages sent"),
            ("events", stats.events_sent, "events sent"),
            ("acked", stats.rows_acked, "outbox rows acknowledged"),
            ("resends", stats.resends, "messages sent again"),
        ):
            yield CounterMetricFamily(f"serialtrace_edge_outbox_{name}", text, value=value)
        yield GaugeMetricFamily(
            "serialtrace_edge_delivery_confirmed_seq",
            "the trace server holds every event of the line up to this sequence number",
            value=stats.last_confirmed_seq,
        )
        yield GaugeMetricFamily(
            "serialtrace_edge_delivery_line_seq",
            "the last line sequence number issued",
            value=stats.last_line_seq,
        )
        yield CounterMetricFamily(
            "serialtrace_edge_delivery_confirmed",
            "outbox rows the trace server confirmed",
            value=stats.rows_confirmed,
        )
        yield CounterMetricFamily(
            "serialtrace_edge_delivery_timeouts",
            "times the unconfirmed events were sent again after the timeout",
            value=stats.confirm_resends,
        )
        yield CounterMetricFamily(
            "serialtrace_edge_delivery_missing",
            "events sent again because the server named them missing",
            value=stats.missing_resends,
        )
        yield CounterMetricFamily(
            "serialtrace_edge_delivery_bad_acks",
            "server acknowledgements ignored",
            value=stats.bad_acks,
        )
        connected = GaugeMetricFamily(
            "serialtrace_edge_mqtt_connected", "1 per connected broker link", labels=["link"]
        )
        connected.add_metric(["publisher"], 1 if agent.publisher.connected else 0)
        connected.add_metric(["plc"], 1 if agent.plc.connected else 0)
        yield connected
        refused = GaugeMetricFamily(
            "serialtrace_edge_mqtt_refused",
            "1 while the broker refuses a link for good",
            labels=["link"],
        )
        refused.add_metric(["publisher"], 1 if stats.refused else 0)
        refused.add_metric(["plc"], 1 if agent.plc.refused else 0)
        yield refused
        yield CounterMetricFamily(
            "serialtrace_edge_plc_errors", "PLC messages refused or failed", value=agent.plc.errors
        )
        alarms = GaugeMetricFamily("serialtrace_edge_alarm", "1 per active alarm", labels=["alarm"])
        for name in sorted(agent.alarms):
            alarms.add_metric([name], 1)
        yield alarms
        units = CounterMetricFamily(
            "serialtrace_edge_units", "units by outcome", labels=["outcome"]
        )
        pipeline = agent.pipeline.stats
        for outcome, value in (
            ("triggered", pipeline.triggers),
            ("refused_trigger", pipeline.refused_triggers),
            ("printed", pipeline.printed),
            ("print_fault", pipeline.print_faults),
            ("commissioned", pipeline.commissioned),
            ("rejected", pipeline.rejected),
        ):
            units.add_metric([outcome], value)
        yield units
        yield from self._health()

    def _health(self) -> Iterator[Metric]:
        agent = self.agent
        report = assess(agent)
        devices = [part for part in report.parts if part.part not in ("workers", "outbox")]
        up = GaugeMetricFamily(
            "serialtrace_edge_device_up",
            "1 per device or link that works (mqtt: broker link, plc: PLC link)",
            labels=["device"],
        )
        fault = GaugeMetricFamily(
            "serialtrace_edge_device_fault",
            "1 per device or link that fails, with what is wrong",
            labels=["device", "fault"],
        )
        for part in devices:
            up.add_metric([part.part], 1 if part.ok else 0)
            if part.problem is not None:
                fault.add_metric([part.part, part.problem[:MAX_FAULT_LABEL]], 1)
        yield up
        yield fault
        workers = GaugeMetricFamily(
            "serialtrace_edge_worker_alive", "1 per running worker thread", labels=["worker"]
        )
        for name, alive in sorted(report.workers.items()):
            workers.add_metric([name], 1 if alive else 0)
        yield workers
        yield GaugeMetricFamily(
            "serialtrace_edge_outbox_max_age_seconds",
            "events waiting longer than this fail /health",
            value=agent.config.outbox.max_age_s,
        )
        yield CounterMetricFamily(
            "serialtrace_edge_mqtt_takeovers",
            "times another client took the publisher's MQTT session over",
            value=agent.publisher.stats.takeovers,
        )
        yield GaugeMetricFamily(
            "serialtrace_edge_healthy", "1 when /health answers 200", value=1 if report.ok else 0
        )


def render_metrics(agent: Agent) -> tuple[bytes, str]:
    """The metrics text and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_AgentCollector(agent))
    return generate_latest(registry), CONTENT_TYPE_LATEST
