"""First start (fresh state directory: schema, bootstrap) and restart of `serve`, A/B between source trees.

api_throughput.py's cold-start method: wall time until both listeners answer and the server's CPU (user+sys)
until then. Each `--tree` is put first on the served process's PYTHONPATH (the venv's editable install would
otherwise win, since the server runs in its state directory); the trees alternate, run after run, so they share
the machine's load. Prints min–max per tree and writes bench/results/first_start.json with the load averages.

    .venv/bin/python bench/first_start.py --tree /tmp/base --label base --tree . --label now [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.scale_simulator import machine, proc_cpu  # noqa: E402
from tests.conftest import start_served  # noqa: E402


def one(tree: Path) -> dict[str, float]:
    env = {"PYTHONPATH": str(tree.resolve())}
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        db_url = f"sqlite:///{state / 'devcloud.db'}"
        t0 = time.monotonic()
        served = start_served(state, db_url, extra_env=env)
        first, first_cpu = time.monotonic() - t0, proc_cpu(served.proc.pid)
        served.kill(15)
        t0 = time.monotonic()
        served = start_served(state, db_url, extra_env=env)
        restart, restart_cpu = time.monotonic() - t0, proc_cpu(served.proc.pid)
        served.kill(15)
    return {"first_s": round(first, 2), "first_cpu_s": round(first_cpu, 2), "restart_s": round(restart, 2),
            "restart_cpu_s": round(restart_cpu, 2), "loadavg_1m": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", action="append", type=Path, required=True)
    ap.add_argument("--label", action="append")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    labels = args.label or [str(t) for t in args.tree]
    mach = machine()
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in labels}
    for _ in range(args.runs):
        for tree, label in zip(args.tree, labels, strict=True):
            runs[label].append(one(tree))
            print(label, runs[label][-1], flush=True)
    for label, rs in runs.items():
        print(label, {k: f"{min(r[k] for r in rs)}–{max(r[k] for r in rs)}" for k in rs[0]})
    out = {"machine": mach, "runs": runs, "loadavg_end": list(os.getloadavg())}
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "first_start.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
