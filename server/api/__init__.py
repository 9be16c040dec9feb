"""The trace server's HTTP API (FastAPI): EPCIS 2.0 REST binding and QA resources."""
