"""Tasks that carry due actions out, record the ones skipped, and answer refused hand-ins."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from prefect import task
from prefect.cache_policies import NONE
from qcycle.tasks.retrying import worth_retrying
from qcycle.tasks.rounds import cached_programme
from qcycle.tasks.runlog import run_log, run_name

from qcycle import db, moment
from qcycle.lifecycle import Outcome
from qcycle.timetable import Action, Timetable

__all__ = ["answer_refusals", "carry_out_actions", "record_skipped"]


@task(name="执行动作", cache_policy=NONE, retries=2, retry_delay_seconds=2, retry_condition_fn=worth_retrying,
      task_run_name="{round_code}·{label}·{count}项")
def carry_out_actions(programme_file: str, round_id: uuid.UUID, actions: list[Action], actor: str,
                      round_code: str, label: str, count: int, as_of: dt.datetime | None = None) -> list[Outcome]:
    """Carry a stage's due actions out, in order: for each, do it, queue its messages and
    record it done, in one transaction per action (idempotent, so a retry redoes nothing).

    One task run per stage flow run, not three per action: a task run costs several
    milliseconds of API calls and a round has hundreds of actions.
    """
    loaded = cached_programme(programme_file)
    log = run_log()
    outcomes = []
    for action in actions:
        with db.session_scope() as session:
            outcome = moment.perform(session, loaded.programme, round_id, action,
                                     template_dir=loaded.template_dir, actor=actor, as_of=as_of)
        said = outcome.note or action.title
        if outcome.drafts:
            said += f"；生成函件 {len(outcome.drafts)} 份"
        if outcome.pending:
            said += f"；待决定 {len(outcome.pending)} 项，决定后再执行后续动作"
        log.info("%s（计划时间 %s）", said, f"{action.at:%Y-%m-%d %H:%M}")
        # The drafts are in the outbox now; without them the result Prefect walks (and the
        # flow returns) is small: a national fan-out is tens of thousands of drafts.
        outcomes.append(dataclasses.replace(outcome, drafts=[]))
    return outcomes


@task(name="记录跳过", cache_policy=NONE, task_run_name=run_name("记录跳过"))
def record_skipped(round_code: str, round_id: uuid.UUID, skipped: list[tuple[Action, str]], actor: str) -> int:
    """Record missed actions that no longer matter, with the reason."""
    log = run_log()
    for action, reason in skipped:
        log.info("跳过 %s（计划时间 %s）：%s", action.title, f"{action.at:%Y-%m-%d %H:%M}", reason)
    with db.session_scope() as session:
        return moment.record_skipped(session, round_code, round_id, skipped, actor)


@task(name="告知不予受理", cache_policy=NONE, retries=2, retry_delay_seconds=2, retry_condition_fn=worth_retrying,
      task_run_name=run_name("告知不予受理"))
def answer_refusals(programme_file: str, round_id: uuid.UUID, timetable: Timetable, as_of: dt.datetime) -> int:
    """Queue a letter to each unit whose late hand-in was refused since the last run (once each,
    in one transaction with marking them answered)."""
    loaded = cached_programme(programme_file)
    with db.session_scope() as session:
        told = moment.answer_refusals(session, loaded.programme, round_id, timetable, as_of,
                                      template_dir=loaded.template_dir)
    if told:
        run_log().info("逾期提交不予受理：告知 %d 个单位", told)
    return told
