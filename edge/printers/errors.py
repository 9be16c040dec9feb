"""Errors of the label printer drivers and the label builders (every language).

::

    LabelError (ValueError)          bad template or label data: fix the input
    ├── TemplateError                a template file or mapping that is not valid
    └── LabelDataError               data a template cannot print (missing field, wrong kind)

    PrinterError (Exception)         a fault of the printer or of the line to it
    ├── PaperOut                     paper out flag (ZPL ~HS; DPL <SOH>A "paper out or fault")
    ├── RibbonOut                    ribbon out flag
    ├── HeadOpen                     head up flag (ZPL)
    ├── Paused                       pause flag
    ├── BufferFull                   buffer full flag (ZPL) with labels that never drain
    ├── PrinterTimeout               no (complete) answer, or a job not printed in time
    ├── PrinterDisconnected          the port cannot be (re)opened or written
    ├── PrinterProtocolError         an answer that is not what the protocol says
    └── LabelCancelled               a label the host cancelled in the printer (never printed)

Each fault error carries the parsed status answer that showed it (ZPL
:class:`~edge.printers.status.HostStatus`, DPL :class:`~edge.printers.dpl.DplStatus`), when
there was one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.errors import EdgeError

if TYPE_CHECKING:
    from edge.printers.status import StatusReport


class LabelError(EdgeError, ValueError):
    """Base of every error about label templates and label data."""


class TemplateError(LabelError):
    """A label template that is not valid; the message names the field and the template."""


class LabelDataError(LabelError):
    """Label data that the template cannot print."""


class PrinterError(EdgeError):
    """Base of every printer fault."""

    def __init__(self, message: str, status: StatusReport | None = None) -> None:
        super().__init__(message)
        self.status = status


class PaperOut(PrinterError):
    """The printer reports that it is out of labels."""


class RibbonOut(PrinterError):
    """The printer reports that it is out of ribbon."""


class HeadOpen(PrinterError):
    """The printer reports that its print head is up."""


class Paused(PrinterError):
    """The printer is paused (operator or ``~PP``) and prints nothing."""


class BufferFull(PrinterError):
    """The printer's receive buffer is full."""


class PrinterTimeout(PrinterError):
    """The printer did not answer, or did not print a job, within the time allowed."""


class PrinterDisconnected(PrinterError):
    """The port to the printer is gone and could not be opened again."""


class PrinterProtocolError(PrinterError):
    """The printer answered something that its protocol does not allow."""


class LabelCancelled(PrinterError):
    """The label was cancelled in the printer before it was printed (the driver's
    ``cancel_pending`` after a fault stopped the printer): it never comes out."""
