"""Errors of production data (products, lots, orders); each carries its HTTP status.

::

    ServerError (server.errors)
    └── ProductionError     base; ``status``
        ├── Unknown         no such product, order or lot rule              404
        ├── Refused         malformed or not allowed (names the field)      422
        └── Conflict        contradicts what is on record (a used lot, a    409
                            released order changed, a wrong state)
"""

from __future__ import annotations

from server.errors import ServerError


class ProductionError(ServerError):
    status = 400

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class Unknown(ProductionError):
    status = 404


class Refused(ProductionError):
    status = 422


class Conflict(ProductionError):
    status = 409
