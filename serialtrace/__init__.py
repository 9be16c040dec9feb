"""serialtrace: serialization and traceability for pharmaceutical packaging lines."""

__version__ = "0.1.0"
