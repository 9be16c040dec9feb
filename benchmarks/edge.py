"""Edge agent throughput, CPU per unit and trigger-to-decision latency on simulated devices.

The whole line runs in this process: Mosquitto (its own), the PLC simulator sending triggers
over MQTT at a set rate, the virtual ZPL printer on TCP (print time off, so the print head is
not the limit), the camera simulator photographing each label into an in-process queue, and
the real agent with its real drivers (ZPL over ``socket://``, zxing-cpp decoding, SQLite with
``synchronous=FULL``, QoS 1 publishing). Each offered rate runs for a while; a rate is
*sustained* when every trigger got a decision, none was refused and the agent kept up.

CPU seconds per unit count only the agent's own threads (``/proc/self/task``), not the
simulators sharing the process.

Each measurement runs over plain TCP to an open broker and over TLS with authentication to
a broker set up as ``serialtrace broker init`` does it (the agent and the PLC each with
their own identity), in the same run, and the cost of TLS and authentication is printed
(``--transport tls|plain|both``, default both).

The outbox backlog is drained twice: until the broker acknowledged every message (PUBACK,
``confirm_by = "broker"``) and until the real trace server (MQTT ingest into SQLite, in this
run) confirmed every event on the line's ``acks`` topic (server-confirmed delivery, the
default): the difference is what the end-to-end confirmation costs.

    .venv/bin/python benchmarks/edge.py            # 3000 to 9000 units/min, 20 s each
    .venv/bin/python benchmarks/edge.py --quick --drain-only --transport tls  # the drains
    .venv/bin/python benchmarks/edge.py --quick    # < 30 s
    .venv/bin/python benchmarks/edge.py --gate-sweep --rates 600,1200,2400 --seconds 10
    .venv/bin/python benchmarks/edge.py --gate-sweep --hog    # a busy loop on CPU 0

``--gate-sweep`` (issue 17): the highest rate at which no verdict misses the reject gate's
deadline (``--deadline-ms``, 150 by default), as the agent measures it and as the PLC
simulator's gate sees it; ``--hog`` keeps CPU 0 busy with another process meanwhile.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import gs1  # noqa: E402
from edge import outbox, store  # noqa: E402
from edge.batch import BatchAction  # noqa: E402
from edge.config import MqttConfig, OutboxConfig  # noqa: E402
from edge.epcis_events import EpcisEvents  # noqa: E402
from edge.ledger import BatchStart  # noqa: E402
from edge.publisher import Publisher  # noqa: E402
from edge.wiring import build_agent  # noqa: E402
from epcis.topics import LineTopics  # noqa: E402
from serialtrace.services import start_mosquitto  # noqa: E402
from serialtrace.testing import GTIN, config_for, sim_devices, start_line  # noqa: E402
from simulators.plc import Conveyor  # noqa: E402

AGENT_THREADS = ("edge-", "outbox-publisher", "plc-batch", "paho-mqtt-client-serialtrace-edge")
# (paho names its threads after the client id it was given, before the broker replaces it
# with the username: the agent's threads keep these names on the secured broker too.)
TICKS = os.sysconf("SC_CLK_TCK")


def agent_cpu_seconds() -> float:
    """CPU time (user + system) of the agent's threads, by thread name."""
    wanted = {
        thread.native_id
        for thread in threading.enumerate()
        if thread.name.startswith(AGENT_THREADS) and thread.native_id is not None
    }
    total = 0
    for tid in wanted:
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def run(rates: list[int], seconds: float, transport: str = "tls") -> float | None:
    """Step through ``rates`` over ``transport`` (``tls``: the production broker set-up with
    each identity's credentials; ``plain``: an open broker); the highest sustained rate."""
    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="serialtrace-bench-"))
    secure = transport == "tls"
    broker = start_mosquitto(tmp / "broker", secure=secure)
    line = start_line()
    config = config_for(
        tmp / "edge",
        broker if secure else broker.url,
        line,
        units_per_case=20,
        cases_per_pallet=40,
        # No trace server in this run: the broker's PUBACK settles the outbox (what
        # server-confirmed delivery costs is measured by drain(..., confirm="server")).
        extra={"outbox": {"confirm_by": "broker"}},
    )
    agent = build_agent(config, sim_devices(config, line))
    agent.start()
    plc_link = broker.link("plc", "plant1", "line3") if secure else broker.url
    plc = Conveyor(plc_link, "plant1", "line3", rate_per_minute=rates[0], gate_delay_s=2.0)
    plc.start()
    rows = []
    try:
        assert agent.publisher.wait_connected(10) and plc.wait_connected(10)
        agent.start_batch(BatchStart(GTIN, f"BENCH{int(time.time())}", "281130", 1_000_000))
        for rate in rates:
            plc.interval = 60.0 / rate
            agent.pipeline.stats.latencies.clear()
            before = dict(agent.pipeline.stats.as_dict())
            cpu_before = agent_cpu_seconds()
            started = time.monotonic()
            plc.run(int(rate * seconds / 60))
            deadline = started + seconds * 3 + 10
            while plc.running.is_set() and time.monotonic() < deadline:
                time.sleep(0.001)  # the last trigger went out
            while agent.pipeline.in_flight and time.monotonic() < deadline:
                time.sleep(0.001)  # ... and got its decision
            elapsed = time.monotonic() - started
            plc.wait_done(30)
            after = agent.pipeline.stats.as_dict()
            decided = (after["commissioned"] - before["commissioned"]) + (
                after["rejected"] - before["rejected"]
            )
            refused = after["refused_triggers"] - before["refused_triggers"]
            cpu = agent_cpu_seconds() - cpu_before
            p99 = agent.pipeline.stats.percentile(0.99)
            p50 = agent.pipeline.stats.percentile(0.5)
            achieved = decided / elapsed * 60
            sustained = refused == 0 and decided >= 0.99 * int(rate * seconds / 60)
            sustained = sustained and p99 is not None and p99 < 1.0
            rows.append(
                (rate, achieved, decided, refused, cpu / max(decided, 1), p50, p99, sustained)
            )
            print(
                f"offered {rate:>6}/min  achieved {achieved:7.0f}/min  decided {decided:>6}  "
                f"refused {refused:>4}  cpu {1000 * cpu / max(decided, 1):6.2f} ms/unit  "
                f"p50 {1000 * (p50 or 0):6.1f} ms  p99 {1000 * (p99 or 0):6.1f} ms  "
                f"{'sustained' if sustained else 'NOT sustained'}",
                flush=True,
            )
            if not sustained:
                break
        agent.transition(BatchAction.STOP)
        writer = agent.writer.stats.as_dict()
        outbox = agent.publisher.stats.as_dict()
    finally:
        plc.close()
        agent.stop()
        line.close()
        broker.stop()
    best = max((r for r in rows if r[7]), key=lambda r: r[1], default=None)
    print()
    if best is None:
        print("highest sustained rate: none of the offered rates was sustained")
        return None
    else:
        rate, achieved, _, _, cpu, _, p99, _ = best
        print(f"highest sustained rate: {achieved:.0f} units/min (offered {rate}/min)")
        print(f"agent CPU per unit at that rate: {1000 * cpu:.2f} ms")
        print(f"p99 trigger -> commission/reject decision: {1000 * (p99 or 0):.1f} ms")
    print(
        f"group commit: {writer['commits']} commits for {writer['commands']} changes "
        f"(mean {writer['mean_group']}, largest {writer['largest_group']}); "
        f"MQTT: {outbox['events_sent']} events in {outbox['messages_sent']} messages"
    )
    print(f"machine: {os.cpu_count()} CPUs")
    return best[1]


def gate_sweep(
    rates: list[int],
    seconds: float,
    deadline_ms: float = 150.0,
    *,
    hog: bool = False,
    grade: bool = True,
) -> float | None:
    """Gate timing (issue 17): the PLC simulator's reject gate ``deadline_ms`` after each
    trigger (announced with the trigger, as the agent's configured deadline too); for each
    offered rate, how many verdicts missed it: as the agent measured them (trigger received
    -> verdict sent) and as the PLC's gate saw them (units it rejected for no verdict, accepts
    that came late). The policy only alarms here, so every rate runs to the end. ``hog``: a
    busy loop pinned to CPU 0 (``taskset -c 0``) for the whole sweep; ``grade=False``: no
    ISO/IEC 15415 grading (decode and match only). Plain TCP broker.
    Returns the highest offered rate with no missed verdict (None if none)."""
    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="serialtrace-gate-"))
    hogger = (
        subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while 1: pass"])
        if hog
        else None
    )
    broker = start_mosquitto(tmp / "broker", secure=False)
    line = start_line()
    policy = {"verdict_deadline_ms": deadline_ms, "policy": "alarm"}
    camera = {"url": "unused", "timeout_s": 2.0, "grade": grade}
    config = config_for(
        tmp / "edge", broker.url, line, units_per_case=20, cases_per_pallet=40,
        extra={"line": policy, "devices": {"camera": camera}},
    )  # fmt: skip
    agent = build_agent(config, sim_devices(config, line))
    agent.start()
    plc = Conveyor(
        broker.url, "plant1", "line3", rate_per_minute=rates[0], gate_delay_s=deadline_ms / 1000
    )
    plc.start()
    clean: list[int] = []
    print(
        f"gate deadline {deadline_ms:g} ms, {seconds:g} s per rate, "
        f"{'CPU hog on core 0' if hog else 'quiet'}, {os.cpu_count()} CPUs, "
        f"grading {'on' if grade else 'off'}",
        flush=True,
    )
    try:
        assert agent.publisher.wait_connected(10) and plc.wait_connected(10)
        agent.start_batch(BatchStart(GTIN, f"GATE{int(time.time())}", "281130", 1_000_000))
        timing = agent.pipeline.timing
        plc.interval = 60.0 / rates[0]  # warm-up, not counted: decoder, grader, connections
        plc.run(max(10, int(rates[0] * 3 / 60)))
        plc.wait_done(60)
        agent.pipeline.wait_idle(10)
        for rate in rates:
            plc.interval = 60.0 / rate
            agent.pipeline.stats.latencies.clear()
            missed_before, total_before = timing.total_missed, timing.total
            gate_before = plc.counts()
            cpu_before = agent_cpu_seconds()
            started_wall = time.time()
            plc.run(int(rate * seconds / 60))
            if not plc.wait_done(seconds * 3 + 30):
                print(f"offered {rate:>6}/min  the belt did not finish", flush=True)
            agent.pipeline.wait_idle(10)
            gate = plc.counts()
            no_verdict = gate["no_verdict"] - gate_before["no_verdict"]
            late = gate["late_verdicts"] - gate_before["late_verdicts"]
            missed = timing.total_missed - missed_before
            verdicts = timing.total - total_before
            cpu = agent_cpu_seconds() - cpu_before
            lows = [
                p["min_margin_ms"]
                for p in timing.snapshot(seconds=int(time.time() - started_wall) + 2)["history"]
                if p["t"] >= int(started_wall)  # this step's seconds only
            ]
            p99 = agent.pipeline.stats.percentile(0.99)
            ok = missed == 0 and no_verdict == 0 and verdicts > 0
            if ok:
                clean.append(rate)
            print(
                f"offered {rate:>6}/min  verdicts {verdicts:>5}  missed {missed:>4} (agent) "
                f"{no_verdict:>4} no verdict + {late:>3} late (gate)  "
                f"smallest margin {min(lows, default=float('nan')):7.1f} ms  "
                f"p99 trigger->verdict {1000 * (p99 or 0):6.1f} ms  "
                f"cpu {1000 * cpu / max(verdicts, 1):5.2f} ms/unit  "
                f"{'ZERO missed' if ok else 'MISSED'}",
                flush=True,
            )
        agent.transition(BatchAction.STOP)
    finally:
        plc.close()
        agent.stop()
        line.close()
        broker.stop()
        if hogger is not None:
            hogger.kill()
            hogger.wait(10)
    best = max(clean, default=None)
    print(
        f"highest rate with zero missed verdicts at {deadline_ms:g} ms "
        f"({'CPU hog on core 0' if hog else 'quiet'}): "
        + ("none of the offered rates" if best is None else f"{best} units/min")
    )
    return best


def drain(events: int, transport: str = "tls") -> float:
    """An outbox backlog (the broker was away for hours) drained to a fresh broker over
    ``transport``; events per second."""
    tmp = Path(tempfile.mkdtemp(prefix="serialtrace-drain-"))
    secure = transport == "tls"
    broker = start_mosquitto(tmp / "broker", secure=secure)
    factory = EpcisEvents("urn:epc:id:sgln:9506000.00000.3", "urn:epc:id:sgln:9506000.00000.0")
    db = tmp / "edge.sqlite"
    conn = store.connect(db)
    line = LineTopics("plant1", "line3")
    topic = line.events
    with store.transaction(conn):
        for i in range(events):
            code = gs1.UnitCode(gs1.Gtin.parse(GTIN), f"{100000000000 + i}", "L1")
            outbox.append(conn, topic, factory.unit_commissioned(code, 7))
    publisher = Publisher(
        db,
        MqttConfig(
            url=broker.url,
            secrets_file=str(broker.secrets("line", "plant1", "line3")) if secure else None,
        ),
        "bench-drain",
        line.state,
        factory.envelope,
        OutboxConfig(),
    )
    started = time.monotonic()
    publisher.start()
    try:
        while outbox.depth(conn) and time.monotonic() - started < 600:
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        publisher.stop()
        broker.stop()
    stats = publisher.stats
    print(
        f"backlog drain ({transport}): {events} events in {elapsed:.1f} s = "
        f"{events / elapsed:,.0f} events/s "
        f"({stats.messages_sent} messages, all acknowledged and deleted)"
    )
    return events / elapsed


def drain_confirmed(events: int, transport: str = "tls") -> float:
    """The backlog drained until the real trace server confirmed every event (its MQTT
    ingest, receiver process and SQLite store in this run), events/s."""
    from server.ingest.mqtt import MqttIngest
    from server.ingest.service import Ingestor
    from server.lines import register_line
    from server.store import create_store_engine, upgrade, write_transaction

    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="serialtrace-bench-"))
    secure = transport == "tls"
    broker = start_mosquitto(tmp / "broker", secure=secure)
    read_point = "urn:epc:id:sgln:9506000.00000.3"
    factory = EpcisEvents(read_point, "urn:epc:id:sgln:9506000.00000.0")
    engine = create_store_engine(f"sqlite:///{tmp / 'trace.db'}")
    upgrade(engine)
    with write_transaction(engine) as conn:
        register_line(
            conn, "plant1", "line3", [read_point], actor="bench", reason="benchmark",
            now=datetime.now(UTC),
        )  # fmt: skip
    server = MqttIngest(
        Ingestor(engine, max_payload_bytes=1 << 20),
        broker.link("server", "bench") if secure else broker.url,
        client_id="bench-server",
        max_inflight=40,
    )
    server.start()
    db = tmp / "edge.sqlite"
    conn = store.connect(db)
    line = LineTopics("plant1", "line3")
    with store.transaction(conn):
        for i in range(events):
            code = gs1.UnitCode(gs1.Gtin.parse(GTIN), f"{100000000000 + i}", "L1")
            outbox.append(conn, line.events, factory.unit_commissioned(code, 7))
    publisher = Publisher(
        db,
        MqttConfig(
            url=broker.url,
            secrets_file=str(broker.secrets("line", "plant1", "line3")) if secure else None,
        ),
        "bench-drain-confirmed",
        line.state,
        factory.envelope,
        OutboxConfig(),
        acks_topic=line.acks,
    )
    try:
        assert server.connected.wait(60), "the trace server did not connect"
        started = time.monotonic()
        publisher.start()
        while outbox.depth(conn) and time.monotonic() - started < 900:
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        publisher.stop()
        server.stop()
        broker.stop()
        engine.dispose()
    stats = publisher.stats
    print(
        f"backlog drain until the server confirmed ({transport}): {events} events in "
        f"{elapsed:.1f} s = {events / elapsed:,.0f} events/s ({stats.messages_sent} messages, "
        f"{stats.confirms} acknowledgements taken, {stats.confirm_resends} timeout resends)"
    )
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two short steps, < 30 s")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per rate")
    parser.add_argument("--rates", default=None, help="offered units/min, comma-separated")
    parser.add_argument(
        "--drain-only",
        action="store_true",
        help="only the backlog drains: to the broker (PUBACK) and until the server confirmed",
    )
    parser.add_argument(
        "--transport",
        choices=["tls", "plain", "both"],
        default="both",
        help="MQTT over TLS with authentication, plain TCP, or both (default)",
    )
    parser.add_argument(
        "--gate-sweep",
        action="store_true",
        help="gate timing: the highest rate with zero missed verdicts at --deadline-ms",
    )
    parser.add_argument("--deadline-ms", type=float, default=150.0, help="the gate's deadline")
    parser.add_argument("--hog", action="store_true", help="with --gate-sweep: CPU 0 kept busy")
    parser.add_argument("--no-grade", action="store_true", help="with --gate-sweep: no grading")
    args = parser.parse_args()
    if args.gate_sweep:
        sweep = [int(r) for r in (args.rates or "600,1200,2400,3600").split(",")]
        gate_sweep(
            sweep, args.seconds or 10.0, args.deadline_ms, hog=args.hog, grade=not args.no_grade
        )
        return
    if args.quick:
        rates, seconds, backlog = [3000, 6000], 6.0, 20_000
    else:
        rates, seconds, backlog = [3000, 4500, 6000, 7500, 9000, 12000], 20.0, 200_000
    if args.rates:
        rates = [int(r) for r in args.rates.split(",")]
    transports = ["plain", "tls"] if args.transport == "both" else [args.transport]
    sustained: dict[str, float | None] = {}
    drained: dict[str, float] = {}
    for transport in transports:
        label = "TLS + auth" if transport == "tls" else "plain TCP"
        print(f"\n== line over {label} ==", flush=True)
        if args.drain_only:
            drain(backlog, transport)
            drain_confirmed(backlog, transport)
            continue
        sustained[transport] = run(rates, args.seconds or seconds, transport)
        drained[transport] = drain(backlog, transport)
        drain_confirmed(backlog, transport)
    if args.drain_only:
        return
    if len(transports) == 2:
        print("\n== TLS + auth against plain TCP (same run) ==")
        plain, tls = sustained["plain"], sustained["tls"]
        if plain and tls:
            print(f"highest sustained rate: plain {plain:.0f}, TLS {tls:.0f} units/min "
                  f"(TLS {tls / plain - 1:+.1%})")  # fmt: skip
        else:
            print("highest sustained rate: not sustained on one of them (see above)")
        print(
            f"backlog drain: plain {drained['plain']:,.0f}, TLS {drained['tls']:,.0f} events/s "
            f"(TLS {drained['tls'] / drained['plain'] - 1:+.1%})"
        )


if __name__ == "__main__":
    main()
