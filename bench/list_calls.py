"""CPU and SQL statements per signed list call, in process, for the list commands clients send most.

Builds the server in-process with the scale bench's zone shape (`deploy_queries.in_process_zone`: fresh SQLite state
directory, simulator hosts, offerings, the builtin template), deploys a few VMs, then sends each command straight to
the dispatcher (signing checked, the command run, the body rendered; no HTTP) and takes the thread's CPU time per
call: best and median of 7 rounds of 300 calls. Statements are counted with an SQLAlchemy `before_cursor_execute`
listener. The ratio that matters is against a revision before a change, run the same way from a worktree on the same
machine:

    .venv/bin/python bench/list_calls.py [--out bench/results/list_calls.json]
    git worktree add /tmp/base <rev> && cp bench/list_calls.py bench/deploy_queries.py /tmp/base/bench/
    cd /tmp/base && PYTHONPATH=$PWD /work/main/.venv/bin/python bench/list_calls.py --out /tmp/base.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlalchemy import event  # noqa: E402

from bench.deploy_queries import in_process_zone  # noqa: E402
from bench.scale_simulator import machine  # noqa: E402
from management.api.cloudstack.signing import sign  # noqa: E402

# (label, parameters); {domain} is the sub-domain the set-up makes, holding --accounts user accounts u0, u1, ...
# and --domains sub-domains of its own (a VM limit each); the admin owns --projects projects
CALLS: list[tuple[str, dict[str, str]]] = [
    ("listZones", {"command": "listZones"}),
    ("listServiceOfferings", {"command": "listServiceOfferings"}),
    ("listTemplates", {"command": "listTemplates", "templatefilter": "executable"}),
    ("listAccounts", {"command": "listAccounts"}),
    ("listDomains", {"command": "listDomains"}),
    ("listDomains (listall)", {"command": "listDomains", "listall": "true"}),
    ("listHosts", {"command": "listHosts"}),
    ("listNetworks", {"command": "listNetworks"}),
    ("listVirtualMachines", {"command": "listVirtualMachines"}),
    # limits are read per account: these show what a page of ordinary accounts costs
    ("listAccounts (users)", {"command": "listAccounts", "domainid": "{domain}"}),
    ("listResourceLimits (user)", {"command": "listResourceLimits", "account": "u0", "domainid": "{domain}"}),
    ("listProjects", {"command": "listProjects", "listall": "true"}),
]
ROUNDS, PER_ROUND = 7, 300


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--vms", type=int, default=10)
    ap.add_argument("--accounts", type=int, default=20, help="user accounts in a sub-domain")
    ap.add_argument("--projects", type=int, default=10)
    ap.add_argument("--domains", type=int, default=10, help="sub-domains of the accounts' domain")
    ap.add_argument("--out", default=None, help="write the results here as JSON")
    ap.add_argument("--sql", default=None, metavar="COMMAND", help="print the statements of one call of COMMAND")
    args = ap.parse_args()
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        srv, keys, c, zone, so, tmpl = in_process_zone(Path(tmp) / "state", args.hosts, "l")
        for i in range(args.vms):
            c.run("deployVirtualMachine", zoneid=zone["id"], serviceofferingid=so["id"], templateid=tmpl["id"],
                  name=f"vm-{i}")  # waits for the job
        domain = c.call("createDomain", name="bench")["domain"]["id"]
        for i in range(args.accounts):
            c.call("createAccount", accounttype=0, domainid=domain, username=f"u{i}", account=f"u{i}",
                   email=f"u{i}@example.com", firstname="u", lastname=str(i), password="bench-password")
        for i in range(args.domains):
            sub = c.call("createDomain", name=f"d{i}", parentdomainid=domain)["domain"]["id"]
            c.call("updateResourceLimit", domainid=sub, resourcetype=0, max=10 + i)
        for i in range(args.projects):
            c.run("createProject", name=f"p{i}", displaytext=f"project {i}")
        srv.queue.stop()
        statements = [0]
        shown: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements[0] += 1
            shown.append(" ".join(statement.split())[:200])

        event.listen(srv.runtime.db.engine, "before_cursor_execute", count)
        results: dict[str, Any] = {}
        for label, call in CALLS:
            q = {**{k: v.format(domain=domain) for k, v in call.items()}, "response": "json", "apiKey": keys["apikey"]}
            q["signature"] = sign(q, keys["secretkey"])
            items = list(q.items())
            for _ in range(50):  # warm: prepared statements, caches
                reply = srv.dispatcher.handle(items, integration=False)
            assert reply.status == 200, reply.body[:300]
            body = json.loads(reply.body)
            listed = next(iter(body.values())).get("count", 0)
            statements[0] = 0
            shown.clear()
            srv.dispatcher.handle(items, integration=False)
            per_call = statements[0]
            if args.sql in (label, call["command"]):
                print("\n".join(shown))
            rounds = []
            for _ in range(ROUNDS):
                c0 = time.thread_time()
                for _ in range(PER_ROUND):
                    srv.dispatcher.handle(items, integration=False)
                rounds.append((time.thread_time() - c0) / PER_ROUND * 1e3)
            results[label] = {"items": listed, "statements": per_call,
                                        "cpu_ms_best": round(min(rounds), 3),
                                        "cpu_ms_median": round(statistics.median(rounds), 3)}
            print(f"{label:<27} {listed:>4} items  {per_call:>3} statements  "
                  f"best {min(rounds):6.3f} ms  median {statistics.median(rounds):6.3f} ms CPU", flush=True)
        c.http.close()
        srv.runtime.db.dispose()
    out = {"machine": machine(), "revision": rev, "hosts": args.hosts, "vms": args.vms,
           "accounts": args.accounts, "projects": args.projects, "domains": args.domains, "rounds": ROUNDS,
           "calls_per_round": PER_ROUND,
           "calls": results,
           "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
