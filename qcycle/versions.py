"""Versions of the programme language, and how a version-1 file reads in version 2.

Version 1 files (no ``version:`` key) keep loading unchanged: :func:`upgrade` rewrites their
data into the version-2 form before validation and says, key by key, what the v2 form is, so
``qcycle validate`` can show an officer how to write the file today. The meaning is kept:

- ``kind: review``/``evaluation`` with ``decision: true`` → ``kind: decision`` with ``decides:``
  the stage whose hand-ins it decides on (the application or evaluation-request window);
  without ``decision`` → ``kind: event``.
- selectors (``owed_by``, ``notify``, ``assessment.subjects``) joined their keys by *or*;
  v2 joins them by *and*, so several keys become ``any_of``; ``takers: true`` becomes
  ``approved_at:`` the application review.
- ``after:`` without ``event`` counted from a window's deadline or a point stage's day; v2
  names the event. A follow-up's ``after`` was its opening: v2 says ``opens_after``.
- ``grading`` (A–D by three score lines, or by shares) becomes the list ``grades``;
  ``tie_rule`` becomes ``ties``.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["CURRENT", "upgrade"]

CURRENT = 2
_WINDOWS = ("submission", "followup")
_V1_GRADES = ("A", "B", "C", "D")


def upgrade(data: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A version-1 programme as version-2 data, and (field path, what changed) notes."""
    data = copy.deepcopy(data)
    notes: list[tuple[str, str]] = [("version", "版本 1 文件（无 version 键），按版本 2 读取；请加上 version: 2 并按下列提示改写")]
    stages = [s for s in data.get("stages") or [] if isinstance(s, dict)]
    kinds = {s.get("code"): s.get("kind") for s in stages}
    by_submission: dict[str, Any] = {}
    for s in stages:
        if s.get("kind") in _WINDOWS and s.get("submission"):
            by_submission.setdefault(s["submission"], s.get("code"))
    review = next((s.get("code") for s in stages if s.get("kind") == "review" and s.get("decision")), None)

    for i, s in enumerate(data.get("stages") or []):
        if isinstance(s, dict):
            _upgrade_stage(s, f"stages[{i}]", kinds, by_submission, review, notes)

    a = data.get("assessment")
    if isinstance(a, dict):
        if isinstance(a.get("subjects"), dict):
            a["subjects"] = _who(a["subjects"], review, "assessment.subjects", notes)
        if isinstance(a.get("grading"), dict):
            a["grades"] = _grades(a.pop("grading"), notes)
        if "tie_rule" in a:
            a["ties"] = a.pop("tie_rule")
            notes.append(("assessment.tie_rule", f"tie_rule → ties: {a['ties']}"))
    data["version"] = CURRENT
    return data, notes


def _upgrade_stage(s: dict[str, Any], base: str, kinds: dict[Any, Any], by_submission: dict[str, Any],
                   review: str | None, notes: list[tuple[str, str]]) -> None:
    """One stage in its version-2 form (in place): its kind, selectors and relative dates."""
    kind = s.get("kind")
    if kind in ("review", "evaluation"):
        if s.pop("decision", False):
            target = by_submission.get("application" if kind == "review" else "evaluation_request")
            s["kind"] = "decision"
            if target is not None:
                s["decides"] = target
            notes.append((f"{base}.kind", f"kind: {kind} + decision: true → kind: decision, decides: {target}"))
        else:
            s["kind"] = "event"
            notes.append((f"{base}.kind", f"kind: {kind}（无决定）→ kind: event"))
    for key in ("owed_by", "notify"):
        if isinstance(s.get(key), dict):
            s[key] = _who(s[key], review, f"{base}.{key}", notes)
    if isinstance(s.get("after"), dict):
        if kind in _WINDOWS:
            s["opens_after"] = _relative(s.pop("after"), kinds, f"{base}.after", notes)
            notes.append((f"{base}.after", "整改等受理期的 after 指受理开始日 → opens_after"))
        else:
            s["after"] = _relative(s["after"], kinds, f"{base}.after", notes)
    deadlines = [(f"{base}.deadline", s.get("deadline"))]
    deadlines += [(f"{base}.periods[{k}].deadline", pr.get("deadline"))
                  for k, pr in enumerate(s.get("periods") or []) if isinstance(pr, dict)]
    deadlines += [(f"{base}.per_category.{code}.deadline", o.get("deadline"))
                  for code, o in (s.get("per_category") or {}).items() if isinstance(o, dict)]
    for path, d in deadlines:
        if isinstance(d, dict) and isinstance(d.get("after"), dict):
            d["after"] = _relative(d["after"], kinds, f"{path}.after", notes)


def _who(who: dict[str, Any], review: str | None, path: str, notes: list[tuple[str, str]]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if who.get("levels"):
        parts.append({"levels": who["levels"]})
    if who.get("units"):
        parts.append({"units": who["units"]})
    if who.get("takers"):
        if review is None:
            return who  # nothing to translate to: v2 validation names the problem
        parts.append({"approved_at": review})
        notes.append((f"{path}.takers", f"takers: true → approved_at: {review}"))
    if who.get("grades"):
        parts.append({"grades": who["grades"]})
    extra = {k: v for k, v in who.items() if k not in ("levels", "units", "takers", "grades")}
    if len(parts) <= 1:
        return (parts[0] if parts else {}) | extra
    notes.append((path, "版本 1 中多个条件为“或”，版本 2 为“且”：改写为 any_of"))
    return {"any_of": parts} | extra


def _relative(rel: dict[str, Any], kinds: dict[Any, Any], path: str, notes: list[tuple[str, str]]) -> dict[str, Any]:
    if "event" in rel:
        return rel
    event = "deadline" if kinds.get(rel.get("stage")) in _WINDOWS else "on"
    notes.append((path, f"after 须写明从哪个时点起算 → event: {event}"))
    return {**rel, "event": event}


def _grades(grading: dict[str, Any], notes: list[tuple[str, str]]) -> list[dict[str, Any]]:
    if grading.get("method") == "shares":
        shares = grading.get("shares") or {}
        grades = [{"name": g, "share": shares[g]} for g in _V1_GRADES[:-1] if g in shares]
        key = "share"
    else:
        lines = grading.get("thresholds") or {}
        grades = [{"name": g, "min_score": lines[g]} for g in _V1_GRADES[:-1] if g in lines]
        key = "min_score"
    grades.append({"name": "D"})
    text = ", ".join(f"{{name: {g['name']}, {key}: {g[key]}}}" if key in g else f"{{name: {g['name']}}}"
                     for g in grades)
    notes.append(("assessment.grading", f"grading → grades: [{text}]"))
    return grades
