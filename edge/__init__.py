"""The edge agent: one packaging line's controller.

==========================  ===============================================================
:mod:`edge.config`          the TOML configuration, environment overrides, every problem listed
:mod:`edge.agent`           :class:`~edge.agent.Agent`: the parts put together, recovery
:mod:`edge.pipeline`        per unit: serial, print, verify, commission or reject
:mod:`edge.ledger`          batches and units, each change with its EPCIS events
:mod:`edge.aggregation`     cases and pallets, SSCC labels read back, rework, decommissioning
:mod:`edge.batch`           batch and unit state rules, reconciliation (pure)
:mod:`edge.writer`          group commit on the one write connection
:mod:`edge.store`           the SQLite database (WAL, ``synchronous=FULL``)
:mod:`edge.outbox`          the durable outbox
:mod:`edge.publisher`       outbox to MQTT at QoS 1, persistent session, retained line state
:mod:`edge.plc`             the PLC topics: triggers, batch commands, accept/reject/stop
:mod:`edge.api`             the local HTTP API (``serialtrace edge batch …``)
:mod:`edge.devices`         what the agent needs of its devices (protocols)
:mod:`edge.wiring`          the real drivers behind those protocols, built from the config
:mod:`edge.events`,         the EPCIS events of the line
:mod:`edge.epcis_events`
==========================  ===============================================================

Device drivers live in :mod:`edge.printers`, :mod:`edge.vision`, :mod:`edge.scanners`;
serial numbers in :mod:`edge.serials`. See ``docs/edge.md`` and ``docs/mqtt.md``.
"""
