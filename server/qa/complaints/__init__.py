"""Complaints and feedback, by job: the records and workflow states (:mod:`.model`),
intake with the code resolved to unit, batch and shipment (:mod:`.intake`), the workflow with
notes and attachments (:mod:`.workflow`), reading (:mod:`.reading`), imports of complaints
and surveys (:mod:`.imports`), and the dashboard with SLA clocks, satisfaction and trends
(:mod:`.dashboard`).

Workflow::

    received → acknowledged → investigating → resolved → closed
                          └──────────────────→ resolved → investigating (reopened)

Acknowledging stops the first-response clock, resolving stops the resolution clock.
"""

from server.qa.complaints.dashboard import BatchRate, Dashboard, Period, batch_rates, dashboard
from server.qa.complaints.imports import ImportResult, import_complaints, import_survey
from server.qa.complaints.intake import identify, receive
from server.qa.complaints.model import (
    MAX_ATTACHMENT_BYTES,
    NEXT,
    Channel,
    Complaint,
    ComplaintStatus,
    Identified,
    Intake,
    Note,
)
from server.qa.complaints.reading import get_complaint, list_complaints
from server.qa.complaints.workflow import add_note, assign, attachment, change_status

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "NEXT",
    "BatchRate",
    "Channel",
    "Complaint",
    "ComplaintStatus",
    "Dashboard",
    "Identified",
    "ImportResult",
    "Intake",
    "Note",
    "Period",
    "add_note",
    "assign",
    "attachment",
    "batch_rates",
    "change_status",
    "dashboard",
    "get_complaint",
    "identify",
    "import_complaints",
    "import_survey",
    "list_complaints",
    "receive",
]
