"""Ingest of EPCIS documents: validation, apply logic, MQTT consumer."""
