"""Exceptions of the QA package (a small flat tree under :class:`server.errors.ServerError`).

::

    QaError
    ├── NotShippable        shipping units of a batch that is not released is refused
    ├── TransitionRefused   a status change the workflow does not allow (release, complaint),
    │                       or a change to a locked batch record
    ├── DutyRefused         segregation of duties: this user may not do this (admin release,
    │                       the producer releasing their own batch)
    ├── SignatureRequired   a change that needs an electronic signature came without one
    └── SignatureRejected   the re-entered password of an electronic signature is wrong

Unknown batches, recalls, drills and complaints raise :class:`server.errors.NotFound`.
"""

from __future__ import annotations

from server.errors import ServerError


class QaError(ServerError):
    """Base of every error the QA package raises on purpose."""


class NotShippable(QaError):
    """One or more SSCCs hold units of a batch that QA has not released."""


class TransitionRefused(QaError):
    """The workflow does not allow this change from the current state."""


class SignatureRejected(QaError):
    """The password re-entered for an electronic signature does not match."""


class DutyRefused(QaError):
    """Segregation of duties: this user may not make this decision."""


class SignatureRequired(QaError):
    """The change needs the user's electronic signature (password) and none was given."""
