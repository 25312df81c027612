"""The whole benchmark in one command.

    python bench/all.py                 # quick: fits in ~15 minutes on the 2-core machines
    python bench/all.py --full          # 200 / 3,209 / 20,000 units: hours at today's speed

Writes into ``bench/results/`` (or ``--out``): ``run-<N>.json`` (all three modes side by side),
``channels.json``, ``scale.json`` and ``scale.png``, and prints a summary against the targets.

Quick: the side-by-side year at 200 units in all three modes; channel throughput with 300
messages; scaling of qcycle and floor at 200 and (if the estimate fits in 14 minutes) 800 units. Full: the side-by-side national
year (3,209 units) and scaling at 200, 3,209 and 20,000 units (naive up to 3,209 only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.channels import measure_channels
from bench.run import run_modes
from bench.scale import plot, run_scale

QUICK_BUDGET_S = 14 * 60
TARGETS = {
    "national year wall_s": 30, "national year peak RSS MiB": 1024, "ratio qcycle/floor": 1.5,
    "20,000 / 3,209 time": 7.5, "Prefect DB growth MiB per national year": 50,
    "SMTP msg/s": 200, "bot msg/s": 1000,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    side_units = 3209 if args.full else 200
    side = run_modes(side_units, ["qcycle", "naive", "floor"], timeout=None if args.full else 600)
    (out / f"run-{side_units}.json").write_text(json.dumps(side, ensure_ascii=False, indent=1), encoding="utf-8")

    print("[bench] channel throughput ...")
    channels = measure_channels(1000 if args.full else 300)
    (out / "channels.json").write_text(json.dumps(channels, ensure_ascii=False, indent=1), encoding="utf-8")

    if args.full:
        scale = run_scale([200, 3209, 20000], ["qcycle", "naive", "floor"], naive_max=3209)
    else:
        # Quick: reuse the 200-unit side by side, add 800 units (qcycle, floor) if it fits in
        # the 15 minutes, estimated linearly from the 200-unit times.
        scale = {"runs": [side], "skipped": [], "machine": side["machine"]}
        r = side["results"]
        est = 4 * sum(r[m].get("process_s", 600) + 30 for m in ("qcycle", "floor") if m in r)
        left = QUICK_BUDGET_S - (time.perf_counter() - started)
        if est < left:
            scale["runs"].append(run_modes(800, ["qcycle", "floor"]))
        else:
            scale["skipped"].append(f"800 units: estimated {est:.0f} s > {left:.0f} s left of {QUICK_BUDGET_S} s")
    (out / "scale.json").write_text(json.dumps(scale, ensure_ascii=False, indent=1), encoding="utf-8")
    plot(scale, out / "scale.png")

    print(f"\n[bench] done in {time.perf_counter() - started:.0f} s; results in {out}")
    print(f"side by side at {side_units} units:")
    for mode, r in side["results"].items():
        print(f"  {mode:7s}", {k: r.get(k) for k in ("wall_s", "peak_rss_mib", "prefect_db_growth_mib",
                                                     "app_db_mib", "messages", "error")})
    print("  ratio qcycle/floor:", side["ratio_qcycle_floor"])
    smtp, bots = channels["smtp"], channels["wecom_bot"]
    print("channels (msg/s): SMTP qcycle", smtp["qcycle_deliver_batch"]["msg_per_s"], "floor",
          smtp["floor_smtplib_one_connection"]["msg_per_s"], "| bot qcycle 1 bot",
          bots["qcycle_deliver_batch_1_bot"]["msg_per_s"], "floor", bots["floor_httpx_one_connection"]["msg_per_s"])
    for r in scale["runs"]:
        print(f"scale {r['units']:>6} units:", {m: f.get("wall_s") for m, f in r["results"].items()})
    for s in scale["skipped"]:
        print("  skipped:", s)
    print("targets:", TARGETS)


if __name__ == "__main__":
    main()
