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
=============================================  =======  ==================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from edge.agent import Agent


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


def render_metrics(agent: Agent) -> tuple[bytes, str]:
    """The metrics text and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_AgentCollector(agent))
    return generate_latest(registry), CONTENT_TYPE_LATEST
