"""Submissions intake: one record at a time into the round, never dropping anything.

``ingest`` validates a record against the programme (kind, unit, item, period, dates),
applies the stage's lateness rule and stores it once (by fingerprint), or keeps the raw
record in quarantine with the reason.
"""

from qcycle.intake.records import IngestResult, fingerprint, ingest, ingest_many

__all__ = ["IngestResult", "fingerprint", "ingest", "ingest_many"]
