"""QA and after-sales on the trace server: batch record and release, genealogy, recalls,
mock-recall drills, complaints with SLA clocks, and their reports."""
