"""The whole benchmark in one command (~12½ minutes on these 2-core machines).

    python bench/all.py [--out bench/results] [--naive-units 100] [--naive-timeout 300] [--prefect-postgres]

1. The national year (3,209 units) side by side: qcycle, floor, limit and empty; with
   ``--prefect-postgres``, qcycle again with Prefect's database on PostgreSQL (production's
   setup) instead of SQLite.
2. All three modes side by side at ``--naive-units`` (100): naive makes a task run per
   submission and per message (136 s and +49 MiB of Prefect database at 100 units), so a
   national naive year takes hours here; it gets ``--naive-timeout`` seconds and is reported
   as timed out beyond that.
3. Scaling: 100, 3,209 and 20,000 units (qcycle, floor); they reuse the runs above.
4. Channel throughput: 2,000 messages into local SMTP and bot stand-ins.

Writes into ``--out``: ``run-<N>.json`` per size, ``channels.json``, ``scale.json``,
``scale.png``, and prints the figures against the targets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.channels import measure_channels
from bench.generate import SCALE_1_UNITS
from bench.run import machine, run_modes
from bench.scale import plot

TARGETS = {
    "national year wall_s": 30, "national year peak RSS MiB": 1024, "ratio qcycle/floor": 1.5,
    "20,000 / 3,209 time": 7.5, "Prefect DB growth MiB per national year": 50,
    "SMTP msg/s": 200, "bot msg/s": 1000, "floor / limit": 3.0, "(qcycle - floor) / empty": 1.5,
}


def _save(out: Path, name: str, data: dict[str, Any]) -> None:
    (out / name).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--naive-units", type=int, default=100)
    ap.add_argument("--naive-timeout", type=float, default=300)
    ap.add_argument("--large", type=int, default=20000, help="the largest size of the scaling runs")
    ap.add_argument("--prefect-postgres", action="store_true",
                    help="also run the national year with Prefect's database on PostgreSQL (~1.5 min more)")
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    national = run_modes(SCALE_1_UNITS, ["qcycle", "floor", "limit", "empty"])
    _save(out, f"run-{SCALE_1_UNITS}.json", national)
    national_pg = None
    if args.prefect_postgres:
        # The same year with Prefect's database on PostgreSQL, as in production; compared with
        # the floor just measured (the floor has no Prefect server).
        try:
            national_pg = run_modes(SCALE_1_UNITS, ["qcycle"], prefect_db="postgres")
        except RuntimeError as exc:  # no PostgreSQL here: reported, not fatal
            national_pg = {"units": SCALE_1_UNITS, "results": {"qcycle": {"error": str(exc)}}}
        floor_s = national["results"]["floor"].get("wall_s")
        pg_s = national_pg["results"]["qcycle"].get("wall_s")
        national_pg["ratio_qcycle_floor"] = round(pg_s / floor_s, 2) if pg_s and floor_s else None
        _save(out, f"run-{SCALE_1_UNITS}-prefect-postgres.json", national_pg)
    small = run_modes(args.naive_units, ["qcycle", "naive", "floor"], timeout=args.naive_timeout)
    _save(out, f"run-{args.naive_units}.json", small)
    large = run_modes(args.large, ["qcycle", "floor"])
    _save(out, f"run-{args.large}.json", large)
    scale = {"runs": sorted([small, national, large], key=lambda r: r["units"]), "skipped": [],
             "machine": machine()}
    _save(out, "scale.json", scale)
    plot(scale, out / "scale.png")

    print("[bench] channel throughput ...")
    channels = measure_channels(2000)
    _save(out, "channels.json", channels)

    print(f"\n[bench] done in {time.perf_counter() - started:.0f} s; results in {out}")
    for run in scale["runs"]:
        print(f"{run['units']:>6} units (ratio qcycle/floor {run['ratio_qcycle_floor']}):")
        for mode, r in run["results"].items():
            print(f"  {mode:7s}", {k: r.get(k) for k in ("wall_s", "peak_rss_mib", "prefect_db_growth_mib",
                                                         "app_db_mib", "messages", "error")})
    if national_pg:
        pg = national_pg["results"]["qcycle"]
        print(f"{SCALE_1_UNITS} units, Prefect on PostgreSQL (ratio to the floor {national_pg['ratio_qcycle_floor']}):",
              {k: pg.get(k) for k in ("wall_s", "peak_rss_mib", "prefect_db_growth_mib",
                                      "prefect_retryable_errors", "error")})
    print(f"{SCALE_1_UNITS} units: floor / limit {national['ratio_floor_limit']}, (qcycle - floor) / empty "
          f"{national['ratio_overhead_empty']}; messages identical {national['messages_identical']}, "
          f"results identical {national['results_identical']}")
    q_nat, q_large = national["results"]["qcycle"], large["results"]["qcycle"]
    if "wall_s" in q_nat and "wall_s" in q_large:
        print(f"{args.large} / {SCALE_1_UNITS} units, qcycle time: {q_large['wall_s'] / q_nat['wall_s']:.2f}x")
    smtp, bots = channels["smtp"], channels["wecom_bot"]
    print("channels (msg/s): SMTP qcycle", smtp["qcycle_deliver_batch"]["msg_per_s"], "floor",
          smtp["floor_smtplib_one_connection"]["msg_per_s"], "| bot qcycle 1 bot",
          bots["qcycle_deliver_batch_1_bot"]["msg_per_s"], "20 bots", bots["qcycle_deliver_batch_20_bots"]["msg_per_s"],
          "floor", bots["floor_httpx_one_connection"]["msg_per_s"])
    print("targets:", TARGETS)


if __name__ == "__main__":
    main()
