"""What the QA routers share: the clock and settings dependencies, and how QA errors
become HTTP answers. (No router here: ``create_app`` only includes the ``qa_*`` modules
that have one.)

Tests swap time with ``app.dependency_overrides[get_clock] = lambda: ManualClock(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from sqlalchemy import Connection

from server.api.app_state import services_of
from server.errors import NotFound
from server.qa.clock import Clock, SystemClock
from server.qa.errors import (
    DutyRefused,
    NotShippable,
    SignatureRejected,
    SignatureRequired,
    TransitionRefused,
)
from server.qa.release import assert_shippable
from server.qa.sla import QaSettings

_system_clock = SystemClock()


def get_clock() -> Clock:
    return _system_clock


def get_qa_settings(request: Request) -> QaSettings:
    """The QA part of the server's settings (``qa_*`` keys)."""
    return services_of(request).settings.qa()


QaClock = Annotated[Clock, Depends(get_clock)]
Settings = Annotated[QaSettings, Depends(get_qa_settings)]
#: A row id in a path: positive and within a 64-bit integer, the range both engines store.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@contextmanager
def http_errors() -> Iterator[None]:
    """NotFound → 404, refused transitions and shipments → 409, a wrong signature
    password, a missing signature or a duty the user may not do → 403, bad values → 422;
    the message is kept as the detail."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except (TransitionRefused, NotShippable) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except (SignatureRejected, SignatureRequired, DutyRefused) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def refuse_unshippable(conn: Connection, ssccs: Sequence[str]) -> None:
    """For the shipments route: 409 unless every unit in ``ssccs`` is of a released batch
    that is not under recall (see :func:`server.qa.release.assert_shippable`)."""
    with http_errors():
        assert_shippable(conn, ssccs)
