"""Data access: plain functions, keyword-only arguments, an explicit session.

One repository module per aggregate; every public function is re-exported here, so callers
write ``from qcycle import crud; crud.get_round(session=session, code=...)``:

- :mod:`~qcycle.crud.rounds`: programme rounds (by code, created once, settable fields, tallies)
- :mod:`~qcycle.crud.units`: a round's units and list items
- :mod:`~qcycle.crud.submissions`: hand-ins, their versions, who handed what in
- :mod:`~qcycle.crud.handins`: a stage's hand-ins token (what readers keep its hand-ins under)
- :mod:`~qcycle.crud.quarantined`: records set aside; checkpoints of files imported in batches
- :mod:`~qcycle.crud.actions`: timetable actions carried out (``action_run``)
- :mod:`~qcycle.crud.amendments`: amendments of a running round and units' extensions
- :mod:`~qcycle.crud.decisions`: reviews and decisions
- :mod:`~qcycle.crud.results`: assessment results
- :mod:`~qcycle.crud.messages`: outbox rows (queueing, claiming under a lease, results)
- :mod:`~qcycle.crud.auditlog`: the audit log
- :mod:`~qcycle.crud.base`: what they share (not re-exported, but for reading the records as they
  stood at a moment: :func:`as_recorded_at`, :func:`recorded_moment`)

Only these modules (and :mod:`qcycle.db`) build or run SQL; ``tests/test_data_access.py``
keeps it so. The caller owns the transaction (``qcycle.db.session_scope``); these functions
flush but never commit. Writes that two workers may race on are single statements
(``INSERT ... ON CONFLICT``) keyed on the table's unique constraint, so the loser neither
raises nor aborts its transaction, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from qcycle.crud.actions import (
    action_done,
    claim_action,
    done_action_keys,
    done_keys_named,
    record_action,
    recorded_actions,
)
from qcycle.crud.amendments import (
    add_amendment,
    grant_extension,
    last_amendment_at,
    list_amendments,
    list_extensions,
)
from qcycle.crud.auditlog import audit, audit_entries
from qcycle.crud.base import as_recorded_at, recorded_moment
from qcycle.crud.decisions import (
    decided_subjects,
    decision_list,
    decisions_at,
    decisions_token,
    decisions_with_outcome,
    outcomes_at,
    put_decision,
    put_decisions,
    put_review,
    put_reviews,
    review_notes,
    reviews_of,
    subject_outcomes,
    subjects_with_outcome,
)
from qcycle.crud.handins import hand_ins_token, revise_hand_ins
from qcycle.crud.messages import (
    Lease,
    claimable_messages,
    clear_posted_with,
    count_messages,
    enqueue_message,
    enqueue_messages,
    failed_messages,
    find_message,
    held_letters,
    lease_holders,
    lease_messages,
    list_messages,
    mark_messages_sent,
    mark_posted_with,
    merge_items_of,
    message_status_counts,
    record_posts_arrived,
    reminder_rows,
    renew_leases,
    set_message_fields,
    settle_message,
    short_id,
    stamp_started,
    units_written_by,
)
from qcycle.crud.quarantined import (
    get_checkpoint,
    list_quarantine,
    quarantine,
    quarantine_many,
    resolve_quarantine,
    run_pragmas,
    sqlite_page_size,
)
from qcycle.crud.results import (
    earlier_awards,
    graded_subjects,
    latest_results_stage,
    list_results,
    result_subjects,
    save_results,
    stage_results,
)
from qcycle.crud.rounds import (
    get_or_create_round,
    get_round,
    lock_round,
    round_code,
    round_fingerprint,
    round_tallies,
    update_round,
)
from qcycle.crud.submissions import (
    HANDED_IN_INDEX,
    NO_HAND_IN,
    VERSION_COLUMNS,
    HandIn,
    Refusal,
    accepted_subjects,
    add_planned,
    add_submission,
    add_submissions,
    assign_submission_stages,
    count_submissions,
    current_submissions,
    defer_handed_in_index,
    driver_value,
    first_hand_ins,
    handed_in_list,
    handed_in_query,
    handed_in_subjects,
    handed_in_units,
    list_revised,
    mark_answered,
    on_time_units,
    received_fingerprints,
    refusals_to_answer,
    restore_handed_in_index,
    revise_submissions,
)
from qcycle.crud.units import (
    unit_fields,
    units_joined,
    upsert_list_items,
    upsert_units,
)

__all__ = [
    "HANDED_IN_INDEX",
    "NO_HAND_IN",
    "VERSION_COLUMNS",
    "HandIn",
    "Lease",
    "Refusal",
    "accepted_subjects",
    "action_done",
    "add_amendment",
    "add_planned",
    "add_submission",
    "add_submissions",
    "as_recorded_at",
    "assign_submission_stages",
    "audit",
    "audit_entries",
    "claim_action",
    "claimable_messages",
    "clear_posted_with",
    "count_messages",
    "count_submissions",
    "current_submissions",
    "decided_subjects",
    "decision_list",
    "decisions_at",
    "decisions_token",
    "decisions_with_outcome",
    "defer_handed_in_index",
    "done_action_keys",
    "done_keys_named",
    "driver_value",
    "earlier_awards",
    "enqueue_message",
    "enqueue_messages",
    "failed_messages",
    "find_message",
    "first_hand_ins",
    "get_checkpoint",
    "get_or_create_round",
    "get_round",
    "graded_subjects",
    "grant_extension",
    "hand_ins_token",
    "handed_in_list",
    "handed_in_query",
    "handed_in_subjects",
    "handed_in_units",
    "held_letters",
    "last_amendment_at",
    "latest_results_stage",
    "lease_holders",
    "lease_messages",
    "list_amendments",
    "list_extensions",
    "list_messages",
    "list_quarantine",
    "list_results",
    "list_revised",
    "lock_round",
    "mark_answered",
    "mark_messages_sent",
    "mark_posted_with",
    "merge_items_of",
    "message_status_counts",
    "on_time_units",
    "outcomes_at",
    "put_decision",
    "put_decisions",
    "put_review",
    "put_reviews",
    "quarantine",
    "quarantine_many",
    "received_fingerprints",
    "record_action",
    "record_posts_arrived",
    "recorded_actions",
    "recorded_moment",
    "refusals_to_answer",
    "reminder_rows",
    "renew_leases",
    "resolve_quarantine",
    "restore_handed_in_index",
    "result_subjects",
    "review_notes",
    "reviews_of",
    "revise_hand_ins",
    "revise_submissions",
    "round_code",
    "round_fingerprint",
    "round_tallies",
    "run_pragmas",
    "save_results",
    "set_message_fields",
    "settle_message",
    "short_id",
    "sqlite_page_size",
    "stage_results",
    "stamp_started",
    "subject_outcomes",
    "subjects_with_outcome",
    "unit_fields",
    "units_joined",
    "units_written_by",
    "update_round",
    "upsert_list_items",
    "upsert_units",
]
