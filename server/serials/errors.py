"""Errors of the serial authority: each carries its HTTP status and OPEN-SCS return status.

::

    ServerError (server.errors)
    └── AuthorityError          base; ``status`` (HTTP) and ``return_status`` (OPEN-SCS)
        ├── UnknownScope        no such GTIN or SSCC prefix at the authority      404
        ├── NotALine            the caller is not a registered line identity      403
        ├── Exhausted           the scope has no position left to hand out        409
        ├── Conflict            the request contradicts what is on record         409
        ├── Refused             malformed or unacceptable request / document      422
        └── Unavailable         the authority cannot serve it (no or other key)   503

``return_status`` uses the names of OPC 30260's ``OPENSCSReturnEnum`` so that a line-level
system speaking OPEN-SCS can map the answer one to one.
"""

from __future__ import annotations

from server.errors import ServerError


class AuthorityError(ServerError):
    status = 400
    return_status = "Undefined0"

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class UnknownScope(AuthorityError):
    status = 404
    return_status = "InvalidSerialNumberCollection2"


class NotALine(AuthorityError):
    status = 403
    return_status = "InsufficientPrivilegeToExecute11"


class Exhausted(AuthorityError):
    status = 409
    return_status = "InsufficientSerialNumbers3"


class Conflict(AuthorityError):
    status = 409
    return_status = "InvalidRequestToken5"


class Refused(AuthorityError):
    status = 422
    return_status = "InvalidSerialNumbersFormat4"


class Unavailable(AuthorityError):
    status = 503
    return_status = "UnableToAcceptSerialNumberEvents7"
