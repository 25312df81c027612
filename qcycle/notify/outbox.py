"""The outbox: every message is written to the database first, then delivered.

Queuing is idempotent on a key of (round, action, unit, channel, logical date), so the same
message queued twice is stored once. Reminders (``reminder.j2``, ``overdue.j2``) are the
exception: all of a unit's reminders of one day share one row per channel, keyed
(round, ``reminders``, unit, channel, day), merged or continued (``#2``, ``#3``) as
:mod:`qcycle.notify.reminders` describes.

Delivery (:func:`deliver_due`) claims due rows in batches (status ``sending``, a lease that
starts at the claim, renewed as the pass sends) and sends them through :func:`qcycle.notify.deliver.deliver_batch`
(bounded concurrency, per-endpoint limits). **Each result is committed as soon as it is known**,
before the next message to the same endpoint is started, so if the process dies mid-batch
(the local sink aside, last in this list):

- messages whose result was recorded are never sent again;
- claimed messages not yet started are still ``sending``; a lease names its holder
  ("host:pid:pass") and the real time it was taken or last renewed, so the next run, whatever its logical as-of,
  takes them over at once when the holder is gone (its process no longer exists on this
  host, or its pass in this process has ended), else once the lease is older than
  ``notify_stale_sending_seconds`` of real time (default 10 minutes; a holder on another
  host), and its report says how many it took over;
- each send stamps ``started_at`` just before its request leaves. A message that was out at
  the crash (at most one per bot, a few per SMTP server) may have arrived, and bot webhooks and
  SMTP accept no idempotency key: it is held as ``unknown``, reported in the run's ops digest
  and listed by ``qcycle outbox list --status unknown``; ops check with the recipient and
  close it with ``qcycle outbox resolve`` (delivered: recorded as sent; not delivered: queued
  again), which writes an audit line. Nothing is lost and nothing arrives twice.
  ``notify_resend_ambiguous`` chooses at-least-once instead (it is resent automatically).
- the local sink (a folder, for development and simulation) has no request in flight: a pass
  whose every channel is the sink claims its rows without a lease, writes them once (no retry
  within the pass: the claim's write transaction stays open) and records them a few hundred per
  statement, all in the claim's transaction (:mod:`qcycle.notify.recording`), so after a crash
  its messages are still queued and a sink message may be written a second time. (A pass with
  other channels too leases its sink rows like the rest, and records their sends a few hundred
  per statement.)

Results are truthful: a failure is retried later (``failed``, ``next_attempt_at`` by
exponential backoff with jitter, or the service's own ``retry_after``) up to
``notify_max_attempts`` sends, then ``dead`` with its last error; an error retrying cannot fix
is dead at once. Each run that saw failures queues ONE ops digest (``ops_digest.j2``) to the
programme's issuer, keyed by the day and the set of failures it reports, so a rerun does not
repeat it; failures of a digest are never reported in another digest.

Reminders go out on working days within office hours (``office_hours``); outside them they
wait for the next working day's opening (``next_attempt_at``), except that a reminder whose
deadline is today may go out after hours until the deadline
(``office_hours_deadline_exception``; :mod:`qcycle.notify.office_hours`). The rule is applied
when a row is claimed, with the run's logical time, so it holds for first sends, retries and
catch-up alike. Ops' own changes to a message (retry, cancel, resolve) are in
:mod:`qcycle.notify.outbox_ops`; the rows are read and written by :mod:`qcycle.crud.messages`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from sqlmodel import Session

from qcycle import clock, crud, db
from qcycle.crud import count_messages, find_message, list_messages
from qcycle.errors import DeliveryError
from qcycle.gcpause import only_new_objects_scanned
from qcycle.models import OUTBOX_STATUS_LABELS
from qcycle.notify.channels import label_sink_messages
from qcycle.notify.deliver import Message, deliver_batch, writes_locally
from qcycle.notify.groups import group_posts
from qcycle.notify.office_hours import OfficeHours, next_send_time
from qcycle.notify.outbox_ops import cancel_message, requeue_message, resolve_unknown
from qcycle.notify.ratelimit import Rate
from qcycle.notify.recording import Claimed, InClaim, Recorder, Starter, connection_for
from qcycle.notify.reminders import (
    MERGEABLE_TEMPLATES,
    MERGED_TEMPLATE,
    REMINDERS_ACTION,
    deadline_today,
    merge_reminders,
)
from qcycle.notify.report import DeliveryReport
from qcycle.render import SYSTEM_SENDER, Letters, render_message
from qcycle.schema import Programme
from qcycle.settings import Settings, get_settings

__all__ = [
    "DIGEST_ACTION",
    "MERGEABLE_TEMPLATES",
    "MERGED_TEMPLATE",
    "REMINDERS_ACTION",
    "STATUS_LABELS",
    "DeliveryReport",
    "OfficeHours",
    "cancel_message",
    "count_messages",
    "deliver_due",
    "find_message",
    "idempotency_key",
    "list_messages",
    "next_send_time",
    "queue_drafts",
    "requeue_message",
    "resolve_unknown",
]

# How ops read a message's status (statuses are stored in English, shown in Chinese).
STATUS_LABELS = OUTBOX_STATUS_LABELS
DIGEST_ACTION = "ops_digest"
DIGEST_TEMPLATE = "ops_digest.j2"


def idempotency_key(round_code: str, action_key: str, unit: str, channel: str, day: dt.date) -> str:
    return f"{round_code}|{action_key}|{unit}|{channel}|{day.isoformat()}"


# ---------------------------------------------------------------- queuing


def _override(template_dir: Path | None) -> Path | None:
    return template_dir if template_dir and template_dir.is_dir() else None


# Letters about one unit's own standing: its grade, a refusal, that it is late (四川's group of all
# 21 cities read "眉山市…：贵单位…已逾期1个工作日"), a 督办, an order to rectify, a summons, the answer
# to its objection; and a reviewer's list of its own applicants (余姚's towns shared one group, each
# seeing who applied elsewhere before any 公示). Not posted in a group bot its peers read (温州's
# group of companies); reminders before a deadline and notices still are.
PRIVATE_TEMPLATES = frozenset({"result.j2", "step_result.j2", "overdue.j2", "escalation.j2", "rectification.j2",
                               "summons.j2", "refused_late.j2", "objection_reply.j2", "review_request.j2"})


def _private(draft: Any) -> bool:
    """Whether a draft is about its unit's own standing (not for a group its peers read)."""
    return draft.private or draft.template in PRIVATE_TEMPLATES


def queue_drafts(*, session: Session, programme: Programme, round_id: uuid.UUID,
                 drafts: Iterable, template_dir: Path | None = None) -> int:
    """Render drafts and queue them on every channel of their unit; returns how many
    (message, channel) pairs are new. Reminders of one unit and day are merged (module doc)."""
    code = programme.round.code
    channels = {c.name: c for c in programme.channels}
    letters = Letters(_override(template_dir))
    new = 0
    reminders: dict[tuple[str, dt.date], list] = defaultdict(list)
    rows: list[dict] = []
    for d in drafts:
        if d.template in MERGEABLE_TEMPLATES:
            reminders[(d.unit, d.logical_date)].append(d)
            continue
        subject = body = None
        for name in programme.channels_for(d.unit, private=_private(d)):
            if subject is None:
                subject, body = letters.render(d.template, d.context, d.alike)
            rows.append({"idempotency_key": idempotency_key(code, d.action_key, d.unit, name,
                                                            d.key_day or d.logical_date),
                         "action": d.action_key, "unit_code": d.unit, "channel": name,
                         "logical_date": d.logical_date, "subject": subject, "body": body,
                         "round_id": round_id, "tag": ",".join(channels[name].tags) or None})
    # One statement per few hundred messages: a fan-out to thousands of units is cheap.
    new += len(crud.enqueue_messages(session=session, rows=rows))
    # A unit's reminders of a day go out as one; kept out of shared groups when one of them is
    # private (an overdue notice; a 整改报告 owed only by the last two: who owes it is who came last).
    groups = {(unit_code, name, day): group for (unit_code, day), group in reminders.items()
              for name in programme.channels_for(unit_code, private=any(_private(d) for d in group))}
    tags = {name: ",".join(c.tags) or None for name, c in channels.items()}
    bases = {g: idempotency_key(code, REMINDERS_ACTION, g[0], g[1], g[2]) for g in groups}
    return new + merge_reminders(session, round_id, groups, bases, letters, tags)



# ---------------------------------------------------------------- delivery


def _holder_gone(holder: str | None, host: str, live_passes: set[str]) -> bool:
    """Whether the holder of a lease ("host:pid:pass") is known to be gone: a finished pass of
    this process, or a process of this host that no longer exists. A holder on another host
    is never known gone: its lease is taken over by age only."""
    if not holder:
        return True  # leased before leases named their holder (revision 0008)
    their_host, pid, token = (holder.rsplit(":", 2) + ["", ""])[:3]
    if their_host != host or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return token not in live_passes
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


# The passes of this process that are delivering now (their leases are live).
_LIVE_PASSES: set[str] = set()


def _claim(session: Session, round_id: uuid.UUID | None, limit: int, settings: Settings, report: DeliveryReport,
           lease: crud.Lease, *, leased: bool = True) -> tuple[list[Claimed], int]:
    """Take due rows (``leased``: under ``lease``, status ``sending``; else the caller sends them and
    records the results in this transaction, :class:`qcycle.notify.recording.InClaim`);
    hold reminders outside office hours, and a unit's later letters behind any letter still
    waiting (for office hours or another try: :func:`qcycle.crud.held_letters`). Returns (rows
    to send, rows looked at).

    A ``sending`` row of another run is taken over when its holder is gone (see
    :func:`_holder_gone`) or its lease is older than ``notify_stale_sending_seconds`` of real
    time: a run's logical as-of says nothing about whether the run that claimed it still lives,
    and a rerun at the same as-of must deliver what a crashed run left.

    Plain rows and (leased) one UPDATE per few hundred claimed ids: a national fan-out claims tens
    of thousands of rows, and ORM objects cost more than the sends to the local sink."""
    now, wall = lease.now, lease.wall
    host = lease.holder.rsplit(":", 2)[0]
    holders = crud.lease_holders(session=session, round_id=round_id)
    gone = [h for h in holders if h and _holder_gone(h, host, _LIVE_PASSES)]
    stale = wall - dt.timedelta(seconds=settings.notify_stale_sending_seconds)
    rows = crud.claimable_messages(session=session, round_id=round_id, now=now, holders_gone=gone,
                                   stale_before=stale, limit=limit)
    # Letters waiting for office hours or another try (a unit's later letters wait behind
    # them): read only when a letter could wait.
    held = crud.held_letters(session=session, round_id=round_id, now=now) if any(
        not row.reminder for row in rows) else {}
    # Within office hours every reminder goes now; outside them, a reminder's own deadline
    # today may let it go (the deadline exception): only then are its merged items read.
    reminders = [row.id for row in rows if row.reminder]
    open_now = not reminders or next_send_time(now) <= now
    items = {} if open_now or not settings.office_hours_deadline_exception else crud.merge_items_of(
        session=session, ids=reminders)
    claimed: list[Claimed] = []

    def change(row: Any, **values: Any) -> dict:
        crud.set_message_fields(session=session, message_id=row.id, values=values)
        return {**row._asdict(), **values}

    for row in rows:
        interrupted = row.status == "sending"
        if interrupted:
            report.reclaim(row.leased_by)
        if interrupted and row.started_at is not None and not settings.notify_resend_ambiguous:
            # Its run died while this request was out: it may have arrived (bots and SMTP take
            # no idempotency key). Never sent twice silently: held as unknown for ops, who
            # check and `qcycle outbox resolve` it (it is in the run's digest).
            report.unknown += 1
            # A post of a long message: those before it arrived, the one out is what ops check.
            which = ("请求" if row.sending_chars is None else
                     f"长消息的第{row.parts_sent + 1}条" + (f"（前{row.parts_sent}条已送达）" if row.parts_sent else ""))
            report.failures.append(_failure(change(
                row, status="unknown",
                last_error=f"投递中断：{which}已发出但未收到结果，可能已送达；请核实后用 qcycle outbox resolve "
                           "处理（--delivered 已送达，--not-delivered 未送达并重发）")))
            continue
        if row.reminder:
            slot = now if open_now else next_send_time(now, deadline=deadline_today(items.get(row.id, []), now.date()))
            if slot > now:
                change(row, next_attempt_at=slot, **({"status": "failed", "last_error": "上次投递中断（进程退出），此条尚未发出"}
                                                     if interrupted else {}))
                report.deferred += 1
                held.setdefault((row.unit_code, row.channel), (row.created_at, slot))
                continue
        elif not interrupted and (earlier := held.get((row.unit_code, row.channel))) and earlier[0] <= row.created_at:
            # A unit's letters arrive in the order they were written: a run caught up at night
            # sent the 督办 at once and the 逾期提醒 before it only the next morning.
            change(row, next_attempt_at=earlier[1])
            report.deferred += 1
            continue
        if row.attempts >= settings.notify_max_attempts:
            report.dead += 1
            report.failures.append(_failure(change(row, status="dead")))
            continue
        if interrupted:
            # Its run died before this message was started: sending it now is safe.
            change(row, last_error=f"上次投递中断（进程退出），长消息已送达前{row.parts_sent}条，其余现在发送"
                   if row.parts_sent else "上次投递中断（进程退出），此条尚未发出，现在发送")
        claimed.append(Claimed(row.id, row.channel, row.unit_code, row.subject, row.body, row.tag,
                                row.attempts + 1, row.action.startswith(DIGEST_ACTION), row.action, row.parts_sent,
                                row.sent_chars))
    if leased:
        crud.lease_messages(session=session, ids=[c.id for c in claimed], lease=lease)
    else:  # what the lease resets, where there is something to reset: a group post's carrier last time
        taken = {c.id for c in claimed}
        crud.clear_posted_with(session=session, ids=[r.id for r in rows if r.posted_with and r.id in taken])
    return claimed, len(rows)


def _failure(row: Mapping[str, Any]) -> dict:
    return {"id": str(row["id"]), "unit": row["unit_code"], "channel": row["channel"], "subject": row["subject"],
            "status": row["status"], "attempts": row["attempts"], "error": row["last_error"],
            "digest": row["action"].startswith(DIGEST_ACTION)}


class _DeliveryPass:
    """One pass over a round's due rows, a batch at a time, until none is left."""

    def __init__(self, programme: Programme, round_id: uuid.UUID | None, now: dt.datetime,
                 channel_override: str | None, max_workers: int, settings: Settings,
                 report: DeliveryReport, holder: str) -> None:
        self.programme, self.round_id, self.now = programme, round_id, now
        self.channel_override, self.max_workers, self.settings = channel_override, max_workers, settings
        self.report, self.holder = report, holder
        self.refs = {c.name: c.url for c in programme.channels}
        self.rates: dict[str, Rate] = {}
        if channel_override is None:
            for c in programme.channels:
                if c.rate_per_minute:
                    rate = Rate(c.rate_per_minute, 60.0)
                    # Two programme channels on one reference: the stricter limit holds.
                    if c.url not in self.rates or rate.count < self.rates[c.url].count:
                        self.rates[c.url] = rate
        # Every send a local write (the sink): sent and recorded in the claim's transaction, unleased.
        # Any other channel of the programme, due or not, keeps the whole pass under leases.
        self.local = writes_locally([channel_override] if channel_override else [*self.refs.values(), "sink"],
                                    self.rates)

    def run(self, batch: int) -> None:
        while True:
            with db.session_scope() as session:
                lease = crud.Lease(self.now, clock.wall_now(), self.holder)
                claimed, looked_at = _claim(session, self.round_id, batch, self.settings, self.report, lease,
                                            leased=not self.local)
                if claimed and self.local:
                    self._send(claimed, InClaim(session.connection(), lease))
            if claimed and not self.local:
                self._send(claimed, None, lease.wall)
            if looked_at < batch:
                return

    def _email(self, unit: str) -> str | None:
        # Looked up as needed: a dict of every unit's address built for each pass had cost 0.1 s a national year.
        return self.programme.unit(unit).email if self.programme.has_unit(unit) else None

    def _send(self, claimed: list[Claimed], in_claim: InClaim | None, leased_at: dt.datetime | None = None) -> None:
        """Send the claimed rows, a group bot's as one post, recording each result as it comes (``leased_at``:
        when the claim leased them, real time; None in the claim)."""
        p, report = self.programme, self.report
        sends = group_posts(p, claimed)
        together = [post for post in sends if len(post.rows) > 1]
        report.group_posts += len(together)
        report.grouped += sum(len(post.rows) for post in together)
        if together:
            with connection_for(in_claim) as conn:
                crud.mark_posted_with(connection=conn, posts=[[r.id for r in post.rows] for post in together])
        posts = {post.ids[0]: list(post.ids) for post in together}
        messages = [
            Message(id=post.ids[0], channel=self.channel_override or self.refs.get(post.rows[0].channel, "sink"),
                    subject=post.rows[0].subject, body=post.body, tag=post.rows[0].tag,
                    parts_sent=post.rows[0].parts_sent, sent_chars=post.rows[0].sent_chars,
                    # A bot's post has no one recipient, even carrying one unit's letter (长兴's had been
                    # recorded as to an enterprise's mailbox).
                    recipient=self._email(post.units[0]) if len(post.units) == 1
                    and post.rows[0].channel not in p.bot_channels else None)
            for post in sends
        ]
        # The claimed rows by the id their messages carry (a post's rows are the claimed rows themselves).
        keyed = cast(dict[str, Claimed], {key: row for post in sends for key, row in zip(post.ids, post.rows, strict=True)})
        if len(keyed) != len(claimed):  # a row in no post would be claimed again by this very pass, and again
            raise DeliveryError(f"{len(claimed) - len(keyed)} 条已领取的消息不在任何一次发送中（程序错误）；本批未发送")
        recorder = Recorder(keyed, self.now, self.settings, report, posts, in_claim, holder=self.holder)
        labels = {key: (self.now, row.channel) for key, row in keyed.items()}
        # In the claim: one write each and nothing in flight to stamp (a crash rolls the claim back); a
        # failed write waits for a later run, not for a backoff here with the database's write lock held.
        once: dict[str, Any] = {"attempts": 1, "max_wait": 0.0} if in_claim else {}
        try:
            with label_sink_messages(labels):
                # Renewed well before the stale-lease rule could hand waiting rows to another run.
                starter = None if in_claim else Starter(recorder.claimed, posts, self.holder, leased_at,
                                                        self.settings.notify_stale_sending_seconds / 3)
                deliver_batch(messages, max_workers=self.max_workers, rates=self.rates, on_result=recorder,
                              on_start=starter, on_arrived=starter.arrived if starter else None, **once)
        except BaseException:
            if in_claim is None:  # what was recorded stands; in the claim, all of it goes back with the claim
                recorder.flush()
            raise
        if in_claim is not None and (unanswered := recorder.claimed.keys() - recorder.answered):
            # Left queued, they would be claimed again by this very pass, and again: the claim goes back.
            raise DeliveryError(f"投递未返回 {len(unanswered)} 条消息的结果（程序错误）；本批已撤回，消息仍在队列中")
        recorder.flush()


def _queue_digest(programme: Programme, round_id: uuid.UUID | None, now: dt.datetime,
                  report: DeliveryReport, template_dir: Path | None) -> int:
    failures = [f for f in report.failures if not f["digest"]]
    if not failures:
        return 0
    fingerprint = hashlib.sha256("\n".join(sorted(f"{f['id']}:{f['attempts']}:{f['status']}"
                                                  for f in failures)).encode()).hexdigest()[:12]
    action = f"{DIGEST_ACTION}:{fingerprint}"
    names = {u.code: u.name for u in programme.units}
    issuer = programme.unit(programme.round.issuer)
    context = {
        "unit_name": issuer.name,
        "sender_name": SYSTEM_SENDER,
        "day": now.date(),
        "total_sent": report.sent,
        "failures": [{"unit_name": names.get(f["unit"], f["unit"]), "channel": f["channel"],
                      "subject": f["subject"], "status": f["status"], "attempts": f["attempts"],
                      "last_error": f["error"] or "（无）"} for f in failures],
    }
    subject, body = render_message(DIGEST_TEMPLATE, context, _override(template_dir))
    tags = {c.name: ",".join(c.tags) or None for c in programme.channels}
    new = 0
    with db.session_scope() as session:
        for name in issuer.channels:
            _, created = crud.enqueue_message(
                session=session, idempotency_key=idempotency_key(programme.round.code, action, issuer.code,
                                                                 name, now.date()),
                action=action, unit_code=issuer.code, channel=name, logical_date=now.date(),
                subject=subject, body=body, round_id=round_id, tag=tags.get(name),
            )
            new += created
    return new


def deliver_due(*, programme: Programme, round_id: uuid.UUID | None, now: dt.datetime | None = None,
                channel_override: str | None = None, batch: int | None = None,
                max_workers: int | None = None, template_dir: Path | None = None) -> DeliveryReport:
    """Deliver every due message of a round, recording each result as it completes; then queue
    and send one ops digest if anything failed. Never raises for a failing channel."""
    settings = get_settings()
    now = clock.to_local(now) if now else clock.now()
    batch = batch or settings.notify_batch_size
    max_workers = max_workers or settings.notify_max_workers
    report = DeliveryReport()
    # This pass's name on its leases: a later run knows it is gone when the pass has ended or
    # its process no longer exists.
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _LIVE_PASSES.add(holder.rsplit(":", 1)[1])
    try:
        with only_new_objects_scanned():  # tens of thousands of rows claimed, sent and recorded
            delivery = _DeliveryPass(programme, round_id, now, channel_override, max_workers, settings, report,
                                     holder)
            delivery.run(batch)
            report.digests = _queue_digest(programme, round_id, now, report, template_dir)
            if report.digests:
                delivery.run(batch)
    finally:
        _LIVE_PASSES.discard(holder.rsplit(":", 1)[1])
    return report
