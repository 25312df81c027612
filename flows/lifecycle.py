"""The lifecycle flows of a programme round.

``reconcile`` is the one place where "what happens today" is decided: it asks the timetable
what is due as of a logical date, records what is skipped and why, and hands each group of
due actions to its stage flow. Each stage flow can also be run on its own for any day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from qcycle.deploy.schedules import SAFETY_NET_ACTOR
from qcycle.tasks.actions import answer_refusals, carry_out_actions, record_skipped
from qcycle.tasks.messages import deliver_messages
from qcycle.tasks.rounds import cached_programme, prepare_round, replan_schedules, round_code_of
from qcycle.tasks.runlog import run_log

from qcycle import clock
from qcycle.errors import NotFoundError
from qcycle.kinds import action_kind
from qcycle.lifecycle import Outcome, result_kind
from qcycle.loader import LoadedProgramme
from qcycle.moment import could_refuse
from qcycle.schema import grade_label
from qcycle.timetable import ACTION_LABELS, CHAIN_PASSES, Action, Due, released

__all__ = ["STAGE_FLOWS", "reconcile", "run_stage"]

def _flow_kind(action: Action) -> str:
    return action_kind(action.action).flow


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _run_actions(programme_file: str, round_id, actions: list[Action], actor: str, round_code: str,
                 label: str, as_of: dt.datetime) -> list[Outcome]:
    """One task run carries out the stage's actions (each: do it, queue messages, record it)."""
    if not actions:
        return []
    return carry_out_actions(programme_file, round_id, actions, actor, round_code, label or "动作", len(actions),
                             as_of)


def _stage_flow(kind: str, label: str):
    # A run is named by the stages it carries out (审核揭榜书, 评价确认: both "审核决定" flows);
    # the flow's own name says the kind, for the run-history filter.
    @flow(name=f"qcycle-{kind}", description=f"{label}：执行到期的{label}动作",
          flow_run_name="{round_code}·{title}·{as_of:%Y-%m-%d}", validate_parameters=False)
    def stage_flow(programme_file: str, round_id: Any, actions: list[Action], round_code: str,
                   as_of: dt.datetime, actor: str = "flow:reconcile", title: str = label) -> list[Outcome]:
        # The programme travels as its file name: a flow run's parameters are sent to the
        # server and a parsed programme with hundreds of units is large.
        run_log().info("%s %s：%d 项到期动作（%s）", round_code, label, len(actions),
                       "、".join(a.title for a in actions))
        outcomes = _run_actions(programme_file, round_id, actions, actor, round_code, label, as_of)
        if kind == "assessment":
            _assessment_artifacts(cached_programme(programme_file), outcomes)
        return outcomes

    stage_flow.__name__ = f"{kind}_flow"
    return stage_flow


# Routine window work (openings, reminders, deadlines, overdue notices, escalations) happens at
# most moments of a round; it runs as one task inside that moment's reconcile run, whose run is
# already "this moment's work". Milestones get flow runs of their own, findable by flow name.
ROUTINE = {"window": "受理、提醒与逾期"}

STAGE_FLOWS = {
    "publication": _stage_flow("publication", "发布与公示"),
    "followup": _stage_flow("followup", "整改通知"),
    "decision": _stage_flow("decision", "审核决定"),
    "assessment": _stage_flow("assessment", "考核汇总"),
    "notification": _stage_flow("notification", "结果通知"),
}


def _assessment_artifacts(loaded: LoadedProgramme, outcomes: list[Outcome]) -> None:
    p = loaded.programme
    for o in outcomes:
        if not o.results:
            continue
        suffix = f"-{o.action.category}" if o.action.category else ""
        key = _slug(f"{p.round.code}-assessment{suffix}")
        rows = []
        vetoes = {v.code: v.name for v in p.assessment.vetoes} if p.assessment else {}
        for r in o.results:
            unit, _, item = r.unit.partition(":")
            rows.append({"名次": r.rank, "单位": p.unit(unit).name,
                         "项目": next((i.name for _, i in p.items if i.code == item), "") if item else "",
                         "总分": round(r.total, 2), "等次": r.grade, "加分": round(r.bonus, 2),
                         "扣分": round(r.deduction, 2), "否决": vetoes.get(r.veto, r.veto) if r.veto else ""})
        kind = result_kind(p)  # 评审结果 of an award, 考核结果 of an assessment …
        create_table_artifact(rows, key=key, description=f"{o.action.title}：{kind}（{len(rows)} 个对象）")
        names = p.assessment.grade_names if p.assessment else sorted({r.grade for r in o.results})
        counts = {g: sum(1 for r in o.results if r.grade == g) for g in names}
        md = [f"# {o.action.title}", "", f"- 周期：{p.round.name}（{p.round.code}）",
              f"- {kind.removesuffix('结果')}对象：{len(o.results)} 个",
              "- 等次分布：" + "，".join(f"{grade_label(g)} {n}" for g, n in counts.items()),
              "", "| 名次 | 单位 | 项目 | 总分 | 等次 |", "|---|---|---|---|---|"]
        md += [f"| {r['名次']} | {r['单位']} | {r['项目']} | {r['总分']:.2f} | {r['等次']} |" for r in rows]
        create_markdown_artifact("\n".join(md), key=key + "-summary", description=o.action.title)


def run_stage(loaded: LoadedProgramme, round_id, actions: list[Action], as_of: dt.datetime,
              actor: str) -> list[Outcome]:
    """Hand due actions to their stage flows (one flow run per milestone kind) or, for routine
    window work, to one task of the reconcile run; in timetable order."""
    groups: dict[str, list[Action]] = defaultdict(list)
    order: list[str] = []
    for a in actions:
        kind = _flow_kind(a)
        if kind not in groups:
            order.append(kind)
        groups[kind].append(a)
    outcomes: list[Outcome] = []
    code = loaded.programme.round.code
    for kind in order:
        if kind in ROUTINE:
            outcomes += _run_actions(str(loaded.path), round_id, groups[kind], actor, code, ROUTINE[kind], as_of)
        else:
            title = "、".join(dict.fromkeys(loaded.programme.stage(a.stage).name for a in groups[kind]))
            outcomes += STAGE_FLOWS[kind](str(loaded.path), round_id, groups[kind], code, as_of, actor, title)
    return outcomes


def _reconcile_run_name() -> str:
    """Round, what, moment: "sc-jbgs-2023·对账·2023-04-20 17:35", "…·兜底对账·…"."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    as_of = params.get("as_of") or flow_run.scheduled_start_time
    when = clock.to_local(as_of).strftime("%Y-%m-%d %H:%M") if as_of else "现在"
    what = f"阶段{params['only_stage']}" if params.get("only_stage") else "对账"
    if params.get("actor") == SAFETY_NET_ACTOR:
        what = "兜底对账"
    return f"{round_code_of(params['programme_file'])}·{what}·{when}"


@flow(name="qcycle-reconcile", flow_run_name=_reconcile_run_name, validate_parameters=True,
      description="对账：按日程找出截至某时刻应做而未做的动作并执行；已过截止的提醒跳过并说明原因。")
def reconcile(programme_file: str, as_of: dt.datetime | None = None, deliver: bool = True,
              channel_override: str | None = None, actor: str = "flow:reconcile",
              only_stage: str | None = None) -> dict[str, Any]:
    """Run everything due for a round as of a logical moment (default: now, Asia/Shanghai).

    ``only_stage`` limits the run to one stage's actions (``qcycle run STAGE``): any stage
    can be run for any day, through the same decision of what is due.

    Args:
        programme_file: 方案文件路径（如 config/programmes/sc-jbgs-2023.yaml）
        as_of: 逻辑时间（Asia/Shanghai）；留空表示现在
        deliver: 是否发送队列中的消息
        channel_override: 所有消息改走此渠道（如 sink）；留空按方案配置
        actor: 记入审计日志的执行者
        only_stage: 只执行该阶段（阶段代码，如 application）；留空执行全部阶段
    """
    log = run_log()
    moment = clock.to_local(as_of) if as_of else clock.now()
    prepared = prepare_round(programme_file, moment)
    loaded, round_id, timetable, plan = prepared.loaded, prepared.round_id, prepared.timetable, prepared.plan
    if only_stage is not None:
        stages = [st.code for st in loaded.programme.stages]
        if only_stage not in stages:
            raise NotFoundError(f"阶段 {only_stage!r} 不存在（可选：{'、'.join(stages)}）")
        plan = Due([a for a in plan.run if a.stage == only_stage],
                   [(a, r) for a, r in plan.skipped if a.stage == only_stage])
    for warning in timetable.warnings:
        log.warning(warning)
    if (deployment_id := _deployment_id()) is not None:
        _replan(programme_file, round_id, deployment_id)
    code = loaded.programme.round.code
    log.info("对账 %s（%s），截至 %s：到期 %d 项，跳过 %d 项%s", loaded.programme.round.name, code,
             f"{moment:%Y-%m-%d %H:%M}", len(plan.run), len(plan.skipped),
             f"，只执行阶段 {only_stage}" if only_stage else "")
    if plan.skipped:
        record_skipped(code, round_id, plan.skipped, actor)
    outcomes = run_stage(loaded, round_id, plan.run, moment, actor) if plan.run else []
    flow_runs = len({_flow_kind(a) for a in plan.run} - ROUTINE.keys())
    # A decision completed in this run lets the actions waiting for it go now, not at the next
    # moment: their logical time has come (bounded: a chain has few steps).
    for _ in range(CHAIN_PASSES - 1):
        ready = released(timetable, moment, {o.action.key for o in outcomes if not o.pending})
        if not ready or only_stage is not None:
            break
        again = prepare_round(programme_file, moment).plan
        assert again is not None
        later = [a for a in again.run if a.key in ready]
        if not later:
            break
        outcomes += run_stage(loaded, round_id, later, moment, actor)
        flow_runs += len({_flow_kind(a) for a in later} - ROUTINE.keys())
    # A hand-in refused as late since the last run is told to its unit (不予受理), once.
    told = answer_refusals(programme_file, round_id, timetable, moment) if could_refuse(
        loaded.programme, timetable, moment) else 0
    report = None
    if deliver:
        report = deliver_messages(programme_file, round_id, moment, channel_override)
    done = [o for o in outcomes if not o.pending]
    log.info("对账完成：执行 %d 项%s%s", len(done),
             f"，{sum(len(o.pending) for o in outcomes)} 项待决定" if any(o.pending for o in outcomes) else "",
             f"；消息：{report.summary()}" if report else "；本次不投递消息")
    summary = {
        "round": code,
        "as_of": moment.isoformat(),
        "done": [o.action.key for o in done],
        "stage_flows": sorted({_flow_kind(o.action) for o in outcomes} - ROUTINE.keys()),
        "stage_flow_runs": flow_runs,
        "pending": {o.action.key: len(o.pending) for o in outcomes if o.pending},
        "skipped": {a.key: reason for a, reason in plan.skipped},
        "refusals_told": told,
        "messages": report.as_dict() if report else None,
    }
    # One artifact per run, "what this run did" above "where the round stands": its key's
    # history on the Artifacts page is the round's log (an artifact costs an API call).
    lines = [f"# {loaded.programme.round.name}：对账 {moment:%Y-%m-%d %H:%M}", ""]
    lines += [f"- {ACTION_LABELS.get(o.action.action, o.action.action)}：{o.note}" for o in outcomes]
    lines += [f"- 跳过 {a.title}：{reason}" for a, reason in plan.skipped]
    if told:
        lines.append(f"- 逾期提交不予受理：告知 {told} 个单位")
    if not (outcomes or plan.skipped or told):
        lines.append("- 无到期动作")
    if report:
        lines.append(f"- 消息：{report.summary()}")
    lines += ["", *_status_lines(loaded, round_id, timetable, moment)]
    create_markdown_artifact("\n".join(lines), key=_slug(f"{code}-status"),
                             description=f"对账与周期状态 {moment:%Y-%m-%d %H:%M}")
    return summary


def _deployment_id():
    """The deployment this run belongs to, from the run's context (no API call); None for a
    run started from the command line (simulate, backfill, run)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return getattr(getattr(context, "flow_run", None), "deployment_id", None)


def _replan(programme_file: str, round_id, deployment_id) -> None:
    """Re-plan the deployment's schedules from the round as it stands. A failure to reach the
    API is logged, not fatal: the due actions still run, and the next run tries again."""
    state = replan_schedules(programme_file, round_id, deployment_id, return_state=True)
    if not state.is_completed():
        run_log().warning("部署日程未能更新（%s）：本次对账照常进行，下次运行再试", state.message)
        return
    changed = state.result()
    if changed["added"] or changed["removed"]:
        run_log().info("部署日程已按当前方案更新：新增或改动 %d 个，移除 %d 个（%s）",
                       len(changed["added"]), len(changed["removed"]),
                       "、".join(changed["added"] + changed["removed"])[:400])


def _status_lines(loaded: LoadedProgramme, round_id, timetable, moment: dt.datetime) -> list[str]:
    """Where the round stands after this run (``qcycle status``) and a text timeline."""
    from qcycle import db
    from qcycle.status import message_counts_line, overdue_line, round_status
    from qcycle.timeline import render_text

    p = loaded.programme
    with db.session_scope() as session:
        st = round_status(session, p, round_id, timetable, moment, next_count=5)
    lines = [f"## 状态 {moment:%Y-%m-%d %H:%M}", "",
             f"- 当前阶段：{st.current_stage or '尚未开始'}",
             f"- 应执行未执行：{len(st.missed)} 项" + (f"；等待决定：{len(st.waiting)} 项" if st.waiting else ""),
             f"- 消息：{message_counts_line(st.messages)}", ""]
    if st.next_actions:
        lines += ["| 时间 | 动作 | 事项 |", "|---|---|---|"]
        lines += [f"| {a.at:%Y-%m-%d %H:%M} | {ACTION_LABELS.get(a.action, a.action)} | {a.title} |"
                  for a in st.next_actions]
    else:
        lines.append("接下来的动作：无（本周期的日程已全部到期）")
    for title, names in st.overdue.items():
        lines.append(f"\n{overdue_line(title, names)}")
    for stage_name, subjects in st.pending.items():
        lines.append(f"\n待决定：{stage_name} {len(subjects)} 项")
    lines += ["", "```", render_text(p, timetable, moment), "```"]
    return lines
