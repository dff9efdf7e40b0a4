"""What an idle management server costs: CPU seconds per second and SQL statements per minute, no client.

A `devcloud-management serve` subprocess (fresh state directory, ephemeral loopback ports, SQLite) gets a zone of
`--hosts` simulator hosts and `--vms` running VMs through the signed API (so the host monitor and VM sync have
work), then nothing is asked of it for `--settle` seconds and it is measured over `--seconds`: utime + stime from
/proc/<pid>/stat, and the statements SQLAlchemy sent (counted inside the server by a `sitecustomize` module this
bench puts on the server's PYTHONPATH; it writes the counts to a file once a second). Loops run at the shipped
settings (ping.interval, vm.sync.interval, scheduler.interval 60 s; heartbeat 1.5 s) and the server's default job
poll interval.

`--tree PATH` runs the server from another checkout (e.g. `git worktree add --detach /tmp/base main`), so a
before/after pair can run at the same time, under the same load:

    .venv/bin/python bench/idle_cpu.py                              # this tree
    .venv/bin/python bench/idle_cpu.py --tree /tmp/base --label base --tree . --label now

Writes bench/results/idle_cpu.json (one entry per tree, plus the machine description).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from appliance.client import CloudClient  # noqa: E402
from appliance.deploy import Deployer  # noqa: E402
from bench.scale_simulator import machine, proc_cpu, ready_template, zone_spec  # noqa: E402
from tests.conftest import start_served  # noqa: E402

COUNTER = '''\
import os, threading, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
_counts = {}
def _count(conn, cursor, statement, *_):
    word = statement.lstrip()[:6].upper().split(" ")[0] or "?"
    _counts[word] = _counts.get(word, 0) + 1
event.listen(Engine, "before_cursor_execute", _count)
def _dump(path=os.environ["DEVCLOUD_BENCH_SQL_COUNTS"]):
    while True:
        with open(path + ".tmp", "w") as f:
            f.write(repr(dict(_counts)))
        os.replace(path + ".tmp", path)
        time.sleep(1.0)
threading.Thread(target=_dump, name="bench-sql-counts", daemon=True).start()
'''


def counts(path: Path) -> dict[str, int]:
    import ast

    return dict(ast.literal_eval(path.read_text())) if path.exists() else {}


def run(label: str, tree: Path, args: argparse.Namespace, out: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="devcloud-idle-") as tmp:
        state = Path(tmp) / "state"
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(COUNTER)
        count_file = Path(tmp) / "sql-counts"
        env = {"PYTHONPATH": f"{site}:{tree.resolve()}", "DEVCLOUD_BENCH_SQL_COUNTS": str(count_file),
               # start_served sets a 1 s heartbeat for tests; the shipped default is cluster.heartbeat.interval
               "DEVCLOUD_HEARTBEAT_INTERVAL": str(args.heartbeat)}
        served = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env=env)
        try:
            keys = served.keys
            tag = f"i{os.getpid()}{label[:3]}"
            c = CloudClient(served.endpoint, keys["apikey"], keys["secretkey"], poll_interval=0.1, job_timeout=120)
            Deployer(c).deploy(zone_spec(args.hosts, tag))
            zone = c.one("listZones", "zone", name=f"Sandbox-simulator-scale-{tag}")
            assert zone is not None
            so = c.one("listServiceOfferings", "serviceoffering", name="Small Instance")
            assert so is not None
            tmpl = ready_template(c, zone["id"])
            for i in range(args.vms):
                c.run("deployVirtualMachine", zoneid=zone["id"], serviceofferingid=so["id"], templateid=tmpl["id"],
                      name=f"idle-{i}")
            c.close()
            time.sleep(args.settle)
            pid = served.proc.pid
            cpu0, sql0, t0 = proc_cpu(pid), counts(count_file), time.monotonic()
            time.sleep(args.seconds)
            cpu1, sql1, t1 = proc_cpu(pid), counts(count_file), time.monotonic()
        finally:
            served.kill(15)
    wall = t1 - t0
    by_kind = {k: sql1.get(k, 0) - sql0.get(k, 0) for k in sorted(set(sql0) | set(sql1))}
    out[label] = {"label": label, "tree": str(tree.resolve()), "hosts": args.hosts, "vms": args.vms,
                  "seconds": round(wall, 1), "cpu_s": round(cpu1 - cpu0, 2),
                  "cpu_percent": round(100 * (cpu1 - cpu0) / wall, 2),
                  "statements_per_min": round(60 * sum(by_kind.values()) / wall, 1),
                  "statements_by_kind_per_min": {k: round(60 * v / wall, 1) for k, v in by_kind.items() if v},
                  "loadavg_end": list(os.getloadavg())}


COLUMNS = [("label", "tree", 8), ("hosts", "hosts", 6), ("vms", "VMs", 5), ("seconds", "s", 6),
           ("cpu_s", "CPU s", 7), ("cpu_percent", "CPU %", 7), ("statements_per_min", "stmts/min", 10)]


def table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"{h:>{w}}" for _, h, w in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append("".join(f"{str(r.get(k)):>{w}}" for k, _, w in COLUMNS)
                     + "   " + " ".join(f"{k}={v}" for k, v in r["statements_by_kind_per_min"].items()))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", action="append", default=None, help="checkout to run the server from (repeatable)")
    ap.add_argument("--label", action="append", default=None, help="a name per --tree")
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--vms", type=int, default=5)
    ap.add_argument("--settle", type=float, default=15.0, help="seconds idle before measuring")
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds measured")
    ap.add_argument("--heartbeat", type=float, default=1.5, help="DEVCLOUD_HEARTBEAT_INTERVAL (s)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "idle_cpu.json"))
    args = ap.parse_args()
    trees = [Path(t) for t in (args.tree or [str(ROOT)])]
    labels = args.label or [t.name or "tree" for t in trees]
    if len(labels) != len(trees):
        raise SystemExit("give one --label per --tree")
    mach = machine()
    results: dict[str, Any] = {}
    threads = [threading.Thread(target=run, args=(lab, t, args, results)) for lab, t in zip(labels, trees, strict=True)]
    for th in threads:  # the trees run side by side: they see the same machine load
        th.start()
    for th in threads:
        th.join()
    rows = [results[lab] for lab in labels if lab in results]
    print(table(rows))
    mach["loadavg_end"] = list(os.getloadavg())
    result = {"machine": mach, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    if len(rows) != len(labels):
        raise SystemExit("a run failed (see above)")


if __name__ == "__main__":
    main()
