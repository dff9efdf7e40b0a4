"""A real Prometheus (Debian's package) scrapes a running `devcloud-management serve`: the target is up and the
query API returns devcloud's series with the values the CloudStack API lists."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Served, _free_port, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def query(port: int, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr}, timeout=5)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


def test_prometheus_scrapes_the_server(served: Served, tmp_path: Path) -> None:
    exe = shutil.which("prometheus")
    assert exe, "prometheus is not installed (scripts/provision-test.sh installs Debian's package)"
    port = _free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   "scrape_configs:\n  - job_name: devcloud\n    static_configs:\n"
                   f"      - targets: ['127.0.0.1:{served.api_port}']\n")
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen([exe, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        api = served.client()
        tag = secrets.token_hex(3)
        zone = api("createZone", name=f"prom-{tag}", networktype="Basic", dns1="192.0.2.53",
                   internaldns1="192.0.2.53")["zone"]
        pod = api("createPod", zoneid=zone["id"], name="p0", gateway="172.16.9.1", netmask="255.255.255.0",
                  startip="172.16.9.10", endip="172.16.9.50")["pod"]
        cluster = api("addCluster", zoneid=zone["id"], podid=pod["id"], clustername="c0", clustertype="CloudManaged",
                      hypervisor="Simulator")["cluster"][0]
        for i in range(2):
            api("addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator",
                url=f"http://sim/prom-{tag}/h{i}", username="root", password="password")
        api("listZones")  # a request on record before the scrapes below
        wait_for(lambda: query(port, 'up{job="devcloud"}') and
                 query(port, 'up{job="devcloud"}')[0]["value"][1] == "1", timeout=60, interval=0.5)
        # a scrape after the listZones call: the counter is there, labelled by command and outcome
        deadline = time.monotonic() + 30
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not found:
            found = query(port, 'devcloud_api_requests_total{command="listZones",outcome="success"}')
            time.sleep(0.5)
        assert found and float(found[0]["value"][1]) >= 1
        assert found[0]["metric"]["port"] == "api"
        hosts = api("listHosts", type="Routing")["host"]
        assert len(hosts) == 2
        wait_for(lambda: float(query(port, 'sum(devcloud_hosts{type="Routing",state="Up"}) or vector(0)')[0]
                               ["value"][1]) == sum(1 for h in hosts if h["state"] == "Up") > 0,
                 timeout=30, interval=0.5)
        zones = query(port, "devcloud_zones")
        assert [z["metric"]["zone"] for z in zones] == [zone["name"]]
        depth = query(port, "devcloud_async_job_queue_depth")
        assert depth and float(depth[0]["value"][1]) >= 0
        # every query of the Grafana dashboard in the repo is valid PromQL over series this server exports
        # (rate() needs two scrapes of a counter: wait until the API counter has them)
        wait_for(lambda: query(port, 'rate(devcloud_api_requests_total{command="listZones"}[1m])'), timeout=30,
                 interval=0.5)
        dashboard = json.loads((ROOT / "observability" / "grafana-dashboard.json").read_text())
        empty = []
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                if not query(port, target["expr"]):
                    empty.append(panel["title"])
        # a fresh cloud has no driver calls, S3/EC2 traffic or failed jobs yet; everything else has data
        assert set(empty) <= {"Driver call latency p95 by operation", "S3 and EC2 bytes per second",
                              "S3 and EC2 requests per second by status", "Failed jobs by command",
                              "API errors per second by outcome", "Routers by state", "User VMs by state",
                              "Public IPs allocated", "Primary storage used"}, empty
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
