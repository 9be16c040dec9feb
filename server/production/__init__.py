"""Production data on the trace server: product master data, lot codes by rule and the lots
the system knows, batch orders from QA, CSV or MES (MQTT), released to a line and confirmed
there. See ``docs/qa.md`` (the flow from order to released batch) and ``docs/edge.md``."""
