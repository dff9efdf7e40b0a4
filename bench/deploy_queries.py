"""SQL statements and CPU per deployVirtualMachine and per listVirtualMachines page, in process (no HTTP timing).

Builds the server in-process (fresh SQLite state dir, or --db URL), deploys the scale bench's zone shape through the
signed API, then stops the job workers and drives each deploy by hand, counting the SQL statements of each phase
with an SQLAlchemy `before_cursor_execute` listener: the request (create + job row), the job (claim, run,
complete), one queryAsyncJobResult poll; then one listVirtualMachines page of 500. `--profile` adds a cProfile of
the deploy loop (top functions by cumulative time). It is the tool for hunting N+1 queries; scale_simulator.py
gives the wall-clock numbers.

    .venv/bin/python bench/deploy_queries.py --hosts 100 --vms 200 [--profile] [--show-sql]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlalchemy import event  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from appliance.client import CloudClient  # noqa: E402
from appliance.deploy import Deployer  # noqa: E402
from bench.scale_simulator import ready_template, zone_spec  # noqa: E402
from management.api.app import api_app  # noqa: E402
from management.api.cloudstack.signing import sign  # noqa: E402
from management.server import build  # noqa: E402
from management.settings import Settings  # noqa: E402
from tests.conftest import admin_keys  # noqa: E402

LIST_RUNS = 15  # listVirtualMachines pages timed after the deploys


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.stmts: collections.Counter[str] = collections.Counter()
        self.keep = False
        self.trace: str | None = None
        self.where: collections.Counter[str] = collections.Counter()
        self.sequence: list[str] | None = None  # --sequence: every statement in order, with its caller

    def __call__(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.n += 1
        if self.keep:
            self.stmts[" ".join(statement.split())[:160]] += 1
            if self.trace and self.trace in statement:
                frames = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack()
                          if "/management/" in f.filename]
                self.where[" <- ".join(reversed(frames[-4:]))] += 1
        if self.sequence is not None:
            frames = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack()
                      if "/management/" in f.filename and "/db/" not in f.filename]
            self.sequence.append(f"{' '.join(statement.split())[:70]:70}  {' <- '.join(reversed(frames[-3:]))}")

    def take(self) -> int:
        n, self.n = self.n, 0
        return n


def in_process_zone(state: Path, hosts: int, tag: str, *, db: str | None = None, security_groups: bool = False,
                    ) -> tuple[Any, dict[str, str], CloudClient, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A server built in this process (job workers running) with the scale bench's zone of `hosts` simulator hosts:
    (server, admin keys, a client calling it through a test client, zone, "Small Instance" offering, the ready
    builtin template)."""
    srv = build(Settings(state_dir=state, db_url=db, api_port=0, integration_port=0, s3_port=0,
                         job_poll_interval=0.01), start_workers=True)
    keys = admin_keys(state)
    c = CloudClient("http://127.0.0.1:8080/client/api", keys["apikey"], keys["secretkey"], poll_interval=0.02)
    c.http = TestClient(api_app(srv.dispatcher), base_url="http://127.0.0.1:8080")
    Deployer(c).deploy(zone_spec(hosts, tag, security_groups))
    zone = c.one("listZones", "zone", name=f"Sandbox-simulator-scale-{tag}")
    assert zone is not None
    so = c.one("listServiceOfferings", "serviceoffering", name="Small Instance")
    assert so is not None
    return srv, keys, c, zone, so, ready_template(c, zone["id"])


def user_client(srv: Any, admin: CloudClient) -> tuple[dict[str, str], CloudClient]:
    """Keys and a client of a new user account in a new sub-domain, whose VM, CPU, memory, volume and primary
    storage limits (its own and its domain's) are set far above any run, so every deploy checks and counts them."""
    dom = admin.call("createDomain", name="bench-users")["domain"]["id"]
    acct = admin.call("createAccount", accounttype=0, domainid=dom, username="bench", account="bench",
                      email="bench@example.com", firstname="b", lastname="u", password="bench-password")["account"]
    for rtype in (0, 2, 8, 9, 10):  # user_vm, volume, cpu, memory, primary_storage
        admin.call("updateResourceLimit", resourcetype=rtype, domainid=dom, max=10**7)
        admin.call("updateResourceLimit", resourcetype=rtype, domainid=dom, account="bench", max=10**7)
    k = admin.call("registerUserKeys", id=acct["user"][0]["id"])["userkeys"]
    keys = {"apikey": k["apikey"], "secretkey": k["secretkey"]}
    c = CloudClient(admin.endpoint, keys["apikey"], keys["secretkey"], poll_interval=0.02)
    c.http = TestClient(api_app(srv.dispatcher), base_url="http://127.0.0.1:8080")
    return keys, c


def _heap_snapshot() -> Any:
    import gc
    import tracemalloc

    if not tracemalloc.is_tracing():
        tracemalloc.start(4)
    gc.collect()
    return tracemalloc.take_snapshot()


def _print_growth(before: Any, after: Any, deploys: int) -> None:
    diff = after.compare_to(before, "traceback")
    grown = sum(d.size_diff for d in diff)
    print(f"--- allocated memory grew {grown / 1024:.0f} KiB over {deploys} deploys "
          f"({grown / deploys / 1024:.1f} KiB per deploy); the largest growths:")
    for d in sorted(diff, key=lambda d: -d.size_diff)[:15]:
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in d.traceback)
        print(f"{d.size_diff / 1024:9.1f} KiB {d.count_diff:+7} blocks  {where}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--vms", type=int, default=200)
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    ap.add_argument("--profile", action="store_true", help="cProfile the deploy loop")
    ap.add_argument("--monitor-module", default=None,
                    help="time one host monitor round with HostMonitor from this file (e.g. the old version)")
    ap.add_argument("--sync-module", default=None,
                    help="time one VM sync round with VmSync from this file "
                         "(default: management.services.compute.vmsync)")
    ap.add_argument("--profile-request", action="store_true",
                    help="cProfile the deploy requests (sent straight to the dispatcher, not through HTTP)")
    ap.add_argument("--profile-list", action="store_true", help="cProfile the listVirtualMachines calls")
    ap.add_argument("--security-groups", action="store_true")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the zone is set up")
    ap.add_argument("--as-user", action="store_true",
                    help="deploy as a user account of a sub-domain (limits far above the run: checked, not hit)")
    ap.add_argument("--show-sql", action="store_true", help="print the statements of the last deploy and list")
    ap.add_argument("--sequence", action="store_true",
                    help="print the last deploy's statements in order, each with the code that issued it")
    ap.add_argument("--trace", default=None, help="with --show-sql: where statements containing this text come from")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="what the second half of the deploys left allocated that the first half had not (tracemalloc "
                         "snapshots at half and at the end, after a collection): where memory grows with the VMs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        srv, keys, c, zone, so, tmpl = in_process_zone(Path(tmp) / "state", args.hosts, "q", db=args.db,
                                                       security_groups=args.security_groups)
        if args.as_user:
            keys, c = user_client(srv, c)
        srv.queue.stop()
        if args.gc_freeze:
            import gc

            gc.collect()
            gc.freeze()
        counter = Counter()
        counter.trace = args.trace
        event.listen(srv.runtime.db.engine, "before_cursor_execute", counter)
        per: dict[str, list[int]] = collections.defaultdict(list)
        cpu_of: dict[str, float] = collections.defaultdict(float)  # process CPU by phase (the request runs elsewhere)
        prof = cProfile.Profile(time.thread_time) if args.profile else None
        rprof = cProfile.Profile(time.thread_time) if args.profile_request else None
        t0 = time.process_time()
        w0 = time.perf_counter()
        half = None
        for i in range(args.vms):
            if args.tracemalloc and i == args.vms // 2:
                half = _heap_snapshot()
            last = i == args.vms - 1
            counter.keep = last and args.show_sql
            if last and args.sequence:
                counter.sequence = []
            counter.take()
            p0 = time.process_time()
            deploy = {"zoneid": zone["id"], "serviceofferingid": so["id"], "templateid": tmpl["id"], "name": f"vm-{i}"}
            if rprof is None:
                body = c.call("deployVirtualMachine", **deploy)
            else:  # straight into the dispatcher, in this thread, so cProfile sees the request
                q = {"command": "deployVirtualMachine", "response": "json", "apiKey": keys["apikey"], **deploy}
                q["signature"] = sign(q, keys["secretkey"])
                rprof.enable()
                reply = srv.dispatcher.handle(list(q.items()), integration=False)
                rprof.disable()
                assert reply.status == 200, reply.body[:300]
                body = json.loads(reply.body)["deployvirtualmachineresponse"]
            per["request"].append(counter.take())
            p1 = time.process_time()
            cpu_of["request"] += p1 - p0
            if prof:  # the job runs in this thread (the request runs in the test client's)
                prof.enable()
            assert srv.queue.run_one()
            if prof:
                prof.disable()
            per["job"].append(counter.take())
            p2 = time.process_time()
            cpu_of["job"] += p2 - p1
            job = c.call("queryAsyncJobResult", jobid=body["jobid"])
            per["poll"].append(counter.take())
            cpu_of["poll"] += time.process_time() - p2
            assert job["jobstatus"] == 1, job
        cpu = time.process_time() - t0
        wall = time.perf_counter() - w0
        if half is not None:
            _print_growth(half, _heap_snapshot(), args.vms - args.vms // 2)
        if counter.sequence is not None:
            print("--- the last deploy's statements in order (request, job, poll)")
            print("\n".join(f"{i:3} {line}" for i, line in enumerate(counter.sequence, 1)))
            counter.sequence = None
        if args.show_sql:
            print("--- statements of the last deploy")
            for s, n in counter.stmts.most_common():
                print(f"{n:4} {s}")
            for w, n in counter.where.most_common(15):
                print(f"{n:4} {w}")
            counter.stmts.clear()
            counter.where.clear()
        counter.keep = args.show_sql
        counter.take()
        lt: list[float] = []
        lc: list[float] = []
        lprof = cProfile.Profile(time.thread_time) if args.profile_list else None
        for _ in range(LIST_RUNS):
            if lprof:
                lprof.enable()
            # Straight into the dispatcher (this thread, so cProfile sees it): signing, query, rendering.
            q = {"command": "listVirtualMachines", "response": "json", "apiKey": keys["apikey"], "listall": "true",
                 "pagesize": "500", "page": "1"}
            q["signature"] = sign(q, keys["secretkey"])
            t1, c1 = time.perf_counter(), time.thread_time()
            reply = srv.dispatcher.handle(list(q.items()), integration=False)
            assert reply.status == 200, reply.body[:300]
            lc.append(time.thread_time() - c1)
            lt.append(time.perf_counter() - t1)
            if lprof:
                lprof.disable()
        list_stmts = counter.take() // LIST_RUNS
        if args.show_sql:
            print("--- statements of 5 listVirtualMachines pages")
            for s, n in counter.stmts.most_common(30):
                print(f"{n:4} {s}")
            for w, n in counter.where.most_common(15):
                print(f"{n:4} {w}")
        res: dict[str, Any] = {k: f"{sum(v) / len(v):.1f} (last {v[-1]})" for k, v in per.items()}
        print(f"{args.vms} deploys on {args.hosts} hosts: {1000 * cpu / args.vms:.1f} ms CPU/deploy, "
              f"{1000 * wall / args.vms:.1f} ms wall/deploy (sequential, in process)")
        print("SQL statements per deploy:", res)
        print("CPU per deploy by phase (ms):", {k: round(1000 * v / args.vms, 1) for k, v in cpu_of.items()})
        print(f"listVirtualMachines pagesize=500 at {args.vms} VMs: {list_stmts} statements, "
              f"best {1000 * min(lt):.1f} ms, median {1000 * statistics.median(lt):.1f} ms wall, "
              f"median {1000 * statistics.median(lc):.1f} ms CPU")
        counter.keep = False
        if args.sync_module:
            import importlib.util

            spec = importlib.util.spec_from_file_location("vmsync_under_test", args.sync_module)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        else:
            from management.services.compute import vmsync as mod
        counter.take()
        t1, c1 = time.perf_counter(), time.thread_time()
        mod.VmSync(srv.runtime).run_once()
        print(f"one VM sync round at {args.vms} VMs on {args.hosts} hosts: {counter.take()} statements, "
              f"{1000 * (time.thread_time() - c1):.0f} ms CPU, {1000 * (time.perf_counter() - t1):.0f} ms wall")
        if args.monitor_module:
            import importlib.util

            spec = importlib.util.spec_from_file_location("hostmonitor_under_test", args.monitor_module)
            assert spec is not None and spec.loader is not None
            hm = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(hm)
            counter.take()
            t1, c1 = time.perf_counter(), time.thread_time()
            hm.HostMonitor(srv.runtime).ping_all(60.0)
            print(f"one host monitor round on {args.hosts} hosts: {counter.take()} statements, "
                  f"{1000 * (time.thread_time() - c1):.0f} ms CPU, {1000 * (time.perf_counter() - t1):.0f} ms wall")
        if lprof:
            out = io.StringIO()
            pstats.Stats(lprof, stream=out).sort_stats("tottime").print_stats(30)
            print(out.getvalue())
        if rprof:
            out = io.StringIO()
            pstats.Stats(rprof, stream=out).sort_stats(os.environ.get("PSORT", "cumulative")).print_stats(
                int(os.environ.get("PN", "70")))
            print(out.getvalue())
        if prof:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(os.environ.get("PSORT", "cumulative")).print_stats(
                int(os.environ.get("PN", "70")))
            print(out.getvalue())
        c.http.close()
        srv.runtime.db.dispose()


if __name__ == "__main__":
    main()
