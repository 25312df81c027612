"""Deterministic synthetic national programme for the benchmark.

At scale 1 (``--units 3209``, the default) the programme has one national issuer, 31
provinces, 333 cities and 2,844 counties; ``--units N`` scales every level by N/3209
(at least one province, one city per province, ...). Every unit is reached through the
local sink (channel kind ``sink``, url ``sink``). The list (榜单) has 30 items in 3
categories; the stages are those of a 揭榜挂帅 year (P1-like): publication, application
window with T-5/T-3/T-1/T-0 reminders, overdue notice and escalation to the parent unit,
review decision, takers list, mid-term progress (2 periods), evaluation request (one
category a year later, like P1's 创先引领), evaluation decision, assessment (3 reviewers,
trimmed mean, thresholds) and results notification.

Round years are 2025–2026: chinese-calendar has official 调休 data only up to 2026.

    python bench/generate.py --units 3209 --out /tmp/x   # writes /tmp/x/bench-national.yaml
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import yaml

__all__ = ["LEVEL_COUNTS", "SCALE_1_UNITS", "generate_programme", "write_programme"]

# 1 issuer + 31 provinces + 333 cities + 2,844 counties.
LEVEL_COUNTS = {"province": 31, "city": 333, "county": 2844}
SCALE_1_UNITS = 1 + sum(LEVEL_COUNTS.values())
ISSUER = "100000"
CATEGORIES = [("cxyl", "创先引领"), ("zlcx", "质量创新"), ("tssd", "探索试点")]
ITEMS_PER_CATEGORY = 10
ROUND_CODE = "bench-national-2025"


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` spread over ``parts`` (each ≥ 1), deterministically uneven."""
    parts = max(1, min(parts, total))
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    scale = (total - parts) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % parts] += 1
    return counts


def _units(n_units: int, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}:units")
    f = max(n_units - 1, 3) / (SCALE_1_UNITS - 1)
    n_prov = max(1, round(LEVEL_COUNTS["province"] * f))
    n_city = max(n_prov, round(LEVEL_COUNTS["city"] * f))
    n_county = max(n_city, n_units - 1 - n_prov - n_city)
    units = [{"code": ISSUER, "name": "国家市场监督管理总局（模拟）", "level": "department",
              "channels": ["sink"], "email": "zlfzj@samr.example.cn"}]
    cities: list[str] = []
    for p, nc in enumerate(_split(n_city, n_prov, rng), start=1):
        pcode = f"P{p:03d}"
        units.append({"code": pcode, "name": f"第{p}省市场监督管理局（模拟）", "level": "province",
                      "parent": ISSUER, "channels": ["sink"], "email": f"zl@{pcode.lower()}.amr.example.cn"})
        for c in range(1, nc + 1):
            ccode = f"{pcode}C{c:03d}"
            cities.append(ccode)
            units.append({"code": ccode, "name": f"第{p}省第{c}市市场监督管理局（模拟）", "level": "city",
                          "parent": pcode, "channels": ["sink"],
                          "email": f"zl@{ccode.lower()}.amr.example.cn"})
    for ccode, nk in zip(cities, _split(n_county, len(cities), rng)):
        for k in range(1, nk + 1):
            kcode = f"{ccode}K{k:03d}"
            units.append({"code": kcode, "name": f"{ccode}第{k}县（市、区）市场监督管理局（模拟）",
                          "level": "county", "parent": ccode, "channels": ["sink"],
                          "email": f"zl@{kcode.lower()}.amr.example.cn"})
    return units


def generate_programme(n_units: int = SCALE_1_UNITS, seed: int = 2025) -> dict:
    """The programme file's content as a dict (YAML-ready)."""
    owers = {"levels": ["province", "city", "county"]}
    deadline = {"time": "17:30", "inclusive": True, "roll": "next_workday"}
    return {
        "version": 2,
        "round": {"code": ROUND_CODE, "name": "2025年度全国质量发展创新突破“揭榜挂帅”项目（基准测试）",
                  "programme": "揭榜挂帅", "issuer": ISSUER, "years": [2025, 2026],
                  "timezone": "Asia/Shanghai"},
        "channels": [{"name": "sink", "kind": "sink", "url": "sink"}],
        "units": _units(n_units, seed),
        "categories": [
            {"code": code, "name": name,
             "items": [{"code": f"{code}-{i:02d}", "name": f"{name}第{i}项"}
                       for i in range(1, ITEMS_PER_CATEGORY + 1)]}
            for code, name in CATEGORIES
        ],
        "reminder_policies": {"standard": {"before_workdays": [5, 3, 1], "on_deadline_day": True,
                                           "overdue_after_workdays": 1, "escalate_after_workdays": 3,
                                           "escalate_to": "parent"}},
        "stages": [
            {"code": "publish_list", "name": "印发《榜单》", "kind": "publication", "on": "2025-04-07",
             "notify": owers},
            {"code": "application", "name": "提交揭榜书", "kind": "submission", "submission": "application",
             "owed_by": owers, "opens": "2025-04-07", "deadline": {"date": "2025-04-25", **deadline},
             "lateness": "reject", "reminders": "standard",
             "identity": {"key": ["id"]}},  # a national system numbers every 揭榜书 (编号)
            {"code": "takers_review", "name": "审核揭榜书", "kind": "decision", "decides": "application",
             "on": "2025-04-29"},
            {"code": "takers_list", "name": "发布揭榜名单", "kind": "publication", "on": "2025-05-09",
             "notify": {"approved_at": "takers_review"}},
            {"code": "midterm", "name": "中期检查（进展报告）", "kind": "submission",
             "submission": "progress_report", "owed_by": {"approved_at": "takers_review"}, "lateness": "accept_flag",
             "reminders": "standard",
             "periods": [{"code": "2025-07", "opens": "2025-07-01", "deadline": {"date": "2025-07-18"}},
                         {"code": "2025-10", "opens": "2025-10-09", "deadline": {"date": "2025-10-24"}}]},
            {"code": "evaluation_request", "name": "申请评价确认", "kind": "submission",
             "submission": "evaluation_request", "owed_by": {"approved_at": "takers_review"}, "opens": "2025-11-03",
             "deadline": {"date": "2025-12-19", **deadline}, "lateness": "accept_flag", "reminders": "standard",
             "per_category": {"cxyl": {"opens": "2026-03-02",
                                       "deadline": {"date": "2026-04-17", **deadline}}}},
            {"code": "evaluation", "name": "评价确认", "kind": "decision", "decides": "evaluation_request",
             "on": "2026-01-09", "per_category": {"cxyl": {"on": "2026-05-08"}}},
            {"code": "assessment", "name": "评价打分汇总", "kind": "assessment", "on": "2026-01-16",
             "per_category": {"cxyl": {"on": "2026-05-15"}}},
            {"code": "results", "name": "发布揭榜挂帅成果", "kind": "notification", "template": "result",
             "notify": {"approved_at": "takers_review"}, "on": "2026-01-23", "per_category": {"cxyl": {"on": "2026-05-22"}}},
        ],
        "assessment": {
            "subjects": {"approved_at": "evaluation"}, "scale": 100, "aggregation": "trimmed_mean", "min_reviewers": 3,
            "components": [{"code": "overall", "name": "综合评分", "weight": 1.0}],
            "grades": [{"name": "A", "min_score": 90}, {"name": "B", "min_score": 80},
                       {"name": "C", "min_score": 60}, {"name": "D"}],
            "ties": "components_in_order",
        },
    }


def write_programme(out_dir: Path, n_units: int = SCALE_1_UNITS, seed: int = 2025) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bench-national.yaml"
    text = "# 基准测试用全国方案（合成数据，确定性生成；非真实方案）\n" + yaml.safe_dump(
        generate_programme(n_units, seed), allow_unicode=True, sort_keys=False, width=200)
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=SCALE_1_UNITS)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--out", type=Path, required=True, help="folder for bench-national.yaml")
    args = ap.parse_args(argv)
    path = write_programme(args.out, args.units, args.seed)
    print(path)


if __name__ == "__main__":
    main()
