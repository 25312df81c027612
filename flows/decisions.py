"""Ops decisions in the Prefect UI: a paused run with a typed input form.

The ``qcycle-decide`` flow lists what is pending at a deciding stage (揭榜书审核, 评价确认),
pauses with a form (who decides, which subjects to approve, which to reject, a note) and,
once resumed, records the decisions through :func:`qcycle.ops.decide`, the same path as
``qcycle decide``. A pause that times out fails the run visibly; the daily reconcile keeps
reminding ops of what is still pending, so a round never waits silently.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, pause_flow_run
from prefect.input import RunInput
from pydantic import Field
from qcycle.tasks.rounds import round_code_of
from qcycle.tasks.runlog import run_log

from qcycle import db, ops
from qcycle.lifecycle import sync_round
from qcycle.loader import load_programme

__all__ = ["DecisionForm", "decide_in_ui"]


class DecisionForm(RunInput):
    """审核决定表单：填写决定人，列出同意与不同意的对象（单位代码:项目代码）。"""

    decided_by: str = Field(description="决定人（记入审计日志）")
    approve: list[str] = Field(default_factory=list, description="同意 / 确认的对象")
    reject: list[str] = Field(default_factory=list, description="不同意 / 退回的对象")
    note: str = Field("", description="说明（记入审计日志；该环节告知理由时，也是不同意对象的理由，除非下面另填）")
    # 四川's 审核揭榜书 tells each refused unit why: one note for the whole form would read as every unit's reason.
    reasons: dict[str, str] = Field(default_factory=dict,
                                    description="不同意的理由（对象 → 理由；该环节告知理由时写进给该单位的函件）")


def _run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    return f"{round_code_of(params['programme_file'])}·审核决定·{params['stage']}"


@flow(name="qcycle-decide", flow_run_name=_run_name,
      description="审核决定：暂停并等待运维在界面表单中填写同意/不同意的对象，然后记录决定。")
def decide_in_ui(programme_file: str, stage: str, timeout_hours: float = 72.0) -> dict[str, Any]:
    """Pause for an ops decision on every pending subject of ``stage``; record what comes back."""
    logger = run_log()
    loaded = load_programme(programme_file)
    p = loaded.programme
    db.upgrade()
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
        pending = ops.pending(session, p, round_id)
    if stage not in pending:
        raise ops.DecisionError(f"阶段 {stage!r} 不需要决定（可选：{'、'.join(pending) or '无'}）")
    subjects = pending[stage]
    if not subjects:
        logger.info("%s：没有待决定的事项", p.stage(stage).name)
        return {"decided": []}
    lines = [f"## {p.round.name}：{p.stage(stage).name}", "", f"待决定 {len(subjects)} 项：", ""]
    lines += [f"- `{s}` {p.unit(s.partition(':')[0]).name} {ops.p_item_name(p, s) or ''}" for s in subjects]
    lines += ["", "把要同意的对象留在 approve，要不同意的移到 reject；未列出的对象保持待定。"]
    if p.stage(stage).tell_reason:
        lines.append("本环节告知理由：不同意的对象请在 reasons 中逐个写明理由（写进给该单位的函件）。")
    form = DecisionForm.with_initial_data(description="\n".join(lines), decided_by="", approve=subjects)
    # Prefect accepts only lowercase letters, digits and dashes in input keys.
    key = "".join(ch if ch.isalnum() else "-" for ch in f"decide-{p.round.code}-{stage}".lower())
    answer = pause_flow_run(wait_for_input=form, timeout=int(timeout_hours * 3600), key=key)
    rows = [ops.DecisionRow(stage, s, "yes", answer.note) for s in answer.approve]
    rows += [ops.DecisionRow(stage, s, "no", answer.reasons.get(s) or answer.note) for s in answer.reject]
    with db.session_scope() as session:
        done = ops.decide(session=session, programme=p, round_id=round_id, rows=rows,
                          decided_by=f"ui:{answer.decided_by or 'unknown'}")
    logger.info("已记录 %d 项决定（%s）", len(done), answer.decided_by)
    return {"decided": [list(d) for d in done]}
