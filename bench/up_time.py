"""Time from `devcloud up` to the first guest answering SSH through the router's port forwarding.

- cold: a fresh state directory and fresh ports (new database, datacenter, template copy, network, router, VM).
  The tiny image cache (/var/cache/devcloud/images, or DEVCLOUD_CACHE_DIR) is present unless --no-image-cache, which
  points the builder at an empty cache directory (then the image is built: its .deb downloads come from apt).
- warm: the same sandbox after `devcloud down --all` (server, guest and router stopped): `up` restarts the server,
  starts the router and the VM, and waits for SSH.
- rerun: `up` once more with everything running (must change nothing).

Each run records the per-step breakdown `devcloud up` writes to <state>/sandbox.json. Results: a table and
bench/results/up.json. Everything is removed at the end (`devcloud down --purge`).

    .venv/bin/python bench/up_time.py [--runs 1] [--no-image-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from appliance import zonespec  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "up.json"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _devcloud(env: dict[str, str], *args: str) -> float:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "appliance.cli", *args], env=env, cwd=str(ROOT), capture_output=True,
                       text=True, timeout=900)
    took = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"devcloud {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return took


def _steps(state: Path) -> dict[str, float]:
    data = json.loads((state / "sandbox.json").read_text())
    return {s["step"]: s["seconds"] for s in data.get("last_up", [])}


def one_run(image_cache: bool) -> list[dict[str, object]]:
    root = Path(tempfile.mkdtemp(prefix="devcloud-bench-"))
    state = root / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVCLOUD_", "CLOUDSTACK_", "AWS_"))}
    env.update({"DEVCLOUD_STATE_DIR": str(state), "DEVCLOUD_API_PORT": str(_port()),
                "DEVCLOUD_INTEGRATION_PORT": str(_port()), "DEVCLOUD_S3_PORT": str(_port()),
                "DEVCLOUD_EC2_PORT": str(_port()), "COLUMNS": "200"})
    if not image_cache:
        env["DEVCLOUD_CACHE_DIR"] = str(root / "image-cache")
    data = yaml.safe_load((zonespec.SCENARIO_DIR / "local.yaml").read_text())
    net = random.randint(30, 250)
    data["zones"][0]["public_ranges"] = [{"vlan": "untagged", "gateway": f"198.19.{net}.1",
                                          "netmask": "255.255.255.0", "start": f"198.19.{net}.10",
                                          "end": f"198.19.{net}.40"}]
    spec = root / "bench-local.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    out = []
    try:
        took = _devcloud(env, "up", "--scenario", str(spec))
        out.append({"kind": "cold", "image_cache": "present" if image_cache else "absent (built)",
                    "seconds": round(took, 2), "steps": _steps(state)})
        _devcloud(env, "down", "--all")
        took = _devcloud(env, "up")
        out.append({"kind": "warm", "image_cache": "present", "seconds": round(took, 2), "steps": _steps(state),
                    "note": "after `down --all`: server, router and guest restarted"})
        took = _devcloud(env, "up")
        out.append({"kind": "rerun", "image_cache": "present", "seconds": round(took, 2), "steps": _steps(state),
                    "note": "everything already running"})
    finally:
        subprocess.run([sys.executable, "-m", "appliance.cli", "down", "--purge"], env=env, cwd=str(ROOT),
                       capture_output=True, timeout=600)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-image-cache", action="store_true", help="cold runs build the tiny image from scratch")
    args = ap.parse_args()
    runs = []
    for _ in range(args.runs):
        runs += one_run(image_cache=not args.no_image_cache)
    order = ["host", "server", "datacenter", "template", "first VM", "ssh"]
    print(f"{'run':<7} {'total s':>8}  " + "  ".join(f"{s:>10}" for s in order))
    for r in runs:
        steps = r["steps"]
        assert isinstance(steps, dict)
        print(f"{r['kind']:<7} {r['seconds']:>8.1f}  " + "  ".join(f"{steps.get(s, 0):>10.1f}" for s in order))
    load = os.getloadavg()
    result = {
        "what": "devcloud up -> first guest answers SSH through port forwarding (wall clock of the command)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                    "loadavg_at_end": [round(x, 2) for x in load],
                    "note": "2-core machine shared with other engineers' test runs; QEMU TCG guests"},
        "anchors": {"DevStack": "15-30 min", "Eucalyptus FastStart": "15-20 min",
                    "CloudStack installer": "< 1 h"},
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average at the end: {load[0]:.1f}; results: {RESULTS}")


if __name__ == "__main__":
    main()
