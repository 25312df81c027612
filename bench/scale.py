"""Scaling: the same year at several sizes; JSON and a PNG of time and memory against units.

    python bench/scale.py --units 200,3209,20000 --modes qcycle,floor --naive-max 3209 --json OUT.json --png OUT.png

Each size is one ``bench.run.run_modes`` call (fresh processes, fresh databases, fresh Prefect
server per Prefect mode). ``--naive-max``: naive runs only up to this many units (it makes a
task run per submission and per message). ``--budget``: seconds; sizes are run smallest first
and a size is skipped (and said so) when the sizes before it, scaled linearly by units, say it
would not finish within what is left.
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

from bench.run import machine, run_modes

__all__ = ["plot", "run_scale"]


def run_scale(sizes: list[int], modes: list[str], naive_max: int, budget: float | None = None,
              timeout: float | None = None, log=print) -> dict[str, Any]:
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    skipped: list[str] = []
    per_unit: float | None = None  # seconds of all modes per unit, from the last size run
    for n in sorted(sizes):
        chosen = [m for m in modes if m != "naive" or n <= naive_max]
        if "naive" in modes and "naive" not in chosen:
            skipped.append(f"naive at {n} units (--naive-max {naive_max})")
        left = None if budget is None else budget - (time.perf_counter() - started)
        if left is not None and per_unit is not None and per_unit * n > left:
            skipped.append(f"{n} units: estimated {per_unit * n:.0f} s > {left:.0f} s left of the budget")
            continue
        t0 = time.perf_counter()
        runs.append(run_modes(n, chosen, timeout=timeout, log=log))
        per_unit = (time.perf_counter() - t0) / n
    return {"runs": runs, "skipped": skipped, "machine": machine(), "seconds": round(time.perf_counter() - started, 1)}


def plot(report: dict[str, Any], png: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[scale] matplotlib is not installed in this venv: no plot", file=sys.stderr)
        return False
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    modes = sorted({m for r in report["runs"] for m in r["results"]})
    for mode in modes:
        pts = [(r["units"], r["results"][mode]) for r in report["runs"]
               if mode in r["results"] and "wall_s" in r["results"][mode]]
        if not pts:
            continue
        xs = [u for u, _ in pts]
        ax_t.plot(xs, [f["wall_s"] for _, f in pts], marker="o", label=mode)
        ax_m.plot(xs, [f["peak_rss_mib"] for _, f in pts], marker="o", label=f"{mode} (worker)")
        servers = [(u, f.get("prefect_server_peak_rss_mib")) for u, f in pts if f.get("prefect_server_peak_rss_mib")]
        if servers:
            ax_m.plot([u for u, _ in servers], [s for _, s in servers], marker="x", linestyle="--",
                      label=f"{mode} (Prefect server)")
    for ax, title, ylabel in ((ax_t, "wall time of one programme year", "seconds"),
                              (ax_m, "peak RSS", "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("units")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_t.axhline(30, color="red", alpha=0.4, linestyle=":")
    ax_m.axhline(1024, color="red", alpha=0.4, linestyle=":")
    load = report.get("machine", {}).get("loadavg")
    fig.suptitle(f"qcycle benchmark (shared 2-core machine, load {load}: noisy)", fontsize=9)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    return True


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", default="200,3209,20000")
    ap.add_argument("--modes", default="qcycle,naive,floor")
    ap.add_argument("--naive-max", type=int, default=3209)
    ap.add_argument("--budget", type=float, default=None, help="seconds for the whole scaling run")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per mode run")
    ap.add_argument("--from-runs", type=Path, nargs="*", default=None,
                    help="combine existing run.py JSON files (merged per size) instead of running")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--png", type=Path, default=None)
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.units.split(",") if x.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.from_runs:
        by_units: dict[int, dict[str, Any]] = {}
        for f in args.from_runs:
            r = json.loads(f.read_text(encoding="utf-8"))
            merged = by_units.setdefault(r["units"], {"units": r["units"], "results": {}, "machine": r["machine"]})
            merged["results"].update(r["results"])
        for r in by_units.values():
            q, fl = r["results"].get("qcycle", {}), r["results"].get("floor", {})
            r["ratio_qcycle_floor"] = round(q["wall_s"] / fl["wall_s"], 2) if "wall_s" in q and "wall_s" in fl else None
        report = {"runs": [by_units[u] for u in sorted(by_units)], "skipped": [], "machine": machine(),
                  "combined_from": [str(f) for f in args.from_runs]}
    else:
        report = run_scale(sizes, modes, args.naive_max, args.budget, args.timeout)
    runs = {r["units"]: r for r in report["runs"]}
    for mode in modes:  # 20,000-unit time against the 3,209-unit time (target ≤ 7.5×)
        small, big = runs.get(3209, {}).get("results", {}).get(mode), runs.get(20000, {}).get("results", {}).get(mode)
        if small and big and "wall_s" in small and "wall_s" in big:
            report.setdefault("ratio_20000_over_3209", {})[mode] = round(big["wall_s"] / small["wall_s"], 2)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.png:
        plot(report, args.png)
    for r in report["runs"]:
        print(r["units"], {m: (f.get("wall_s"), f.get("peak_rss_mib"), f.get("messages"), f.get("error"))
                           for m, f in r["results"].items()})
    for s in report["skipped"]:
        print("[scale] skipped:", s)


if __name__ == "__main__":
    main()
