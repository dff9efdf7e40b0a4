"""listZones throughput through the full signed path vs. a bare uvicorn+starlette endpoint, and cold start.

Both servers run as subprocesses on loopback in the same run; the ratio (devcloud / bare) is the number to watch.
Cold start is measured twice: a first start (fresh state directory: Alembic creates the schema, bootstrap makes
the admin) and a restart on that state; each with the server's CPU seconds until its first answer, which does not
depend on the machine's other load. Writes bench/results/api.json with the machine description.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.scale_simulator import machine, proc_cpu  # noqa: E402
from tests.conftest import sign_params, start_served  # noqa: E402

CLIENTS, DURATION, MAX_REQUESTS, SETTLE = 4, 5.0, 20000, 3.0
BARE = '''
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = b'{"listzonesresponse":{}}'
async def api(request):
    return Response(BODY, media_type="application/json; charset=UTF-8")
app = Starlette(routes=[Route("/client/api", api, methods=["GET", "POST"])])
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hammer(url: str, make_params) -> float:  # type: ignore[no-untyped-def]
    count = [0]
    stop = time.monotonic() + DURATION
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=10) as c:
            while time.monotonic() < stop:
                r = c.get(url, params=make_params())
                assert r.status_code == 200, r.text
                with lock:
                    count[0] += 1
                    if count[0] >= MAX_REQUESTS:
                        return

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / (time.monotonic() - t0)


def main() -> None:
    mach = machine()  # load average at the start of the run
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        db_url = f"sqlite:///{state / 'devcloud.db'}"
        t0 = time.monotonic()
        served = start_served(state, db_url)
        cold = time.monotonic() - t0
        cold_cpu = proc_cpu(served.proc.pid)
        served.kill(15)
        # A restart (state and database exist, schema at head): the usual start.
        t0 = time.monotonic()
        served = start_served(state, db_url)
        restart = time.monotonic() - t0
        restart_cpu = proc_cpu(served.proc.pid)
        try:
            keys = served.keys

            def signed() -> dict[str, str]:
                p = {"command": "listZones", "response": "json", "apiKey": keys["apikey"]}
                p["signature"] = sign_params(p, keys["secretkey"])
                return p

            # Steady state: the server starts its job workers and background tasks after its first answer, and
            # their first rounds (VM sync, membership) are not what this measures.
            time.sleep(SETTLE)
            devcloud_rps = hammer(served.endpoint, signed)
        finally:
            served.kill(15)
        app_file = Path(tmp) / "bare_app.py"
        app_file.write_text(BARE)
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port",
                                 str(port), "--log-level", "warning", "--http", "httptools", "--loop", "uvloop"],
                                cwd=tmp)
        try:
            url = f"http://127.0.0.1:{port}/client/api"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(url)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            bare_rps = hammer(url, lambda: {"command": "listZones", "response": "json"})
        finally:
            bare.terminate()
            bare.wait(10)
    result = {
        "machine": mach,
        "clients": CLIENTS, "duration_s": DURATION,
        "devcloud_listzones_rps": round(devcloud_rps, 1), "bare_starlette_rps": round(bare_rps, 1),
        "ratio": round(devcloud_rps / bare_rps, 3), "cold_start_s": round(cold, 2),
        # server CPU (user+sys) spent until the first answer: what cold start costs without the machine's load
        "cold_start_server_cpu_s": round(cold_cpu, 2), "restart_s": round(restart, 2),
        "restart_server_cpu_s": round(restart_cpu, 2), "loadavg_end": list(os.getloadavg()),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(f"{'measure':<36}{'value':>12}")
    for k in ("devcloud_listzones_rps", "bare_starlette_rps", "ratio", "cold_start_s", "cold_start_server_cpu_s",
              "restart_s", "restart_server_cpu_s"):
        print(f"{k:<36}{result[k]:>12}")
    out = ROOT / "bench" / "results" / "api.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
