"""Correctness at scale: 2,000 deployVirtualMachine jobs in flight at once on simulator hosts, through the signed API
of a served instance, all Running at the end, no job failed, no "database is locked" anywhere.

Every deploy is submitted before the first one is awaited, so the job table holds up to 2,000 pending jobs while the
job workers claim, run and complete them and the clients keep submitting and polling: the load under which SQLite's
single writer used to starve one transaction past its busy timeout. A count, never a time, is asserted; the wall
time of this test on a 2-core machine is in bench/README.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from appliance import zonespec
from appliance.client import CloudClient
from appliance.deploy import Deployer
from management.api.cloudstack.signing import sign
from tests.conftest import Served

pytestmark = [pytest.mark.api, pytest.mark.slow]

# 2,000 on SQLite (the single writer is what starved a transaction); 500 on MariaDB, enough for the InnoDB deadlocks
# between concurrent allocations in one account to show (1,818 of 2,000 requests lost to them before the fix)
VMS_BY_BACKEND = {"sqlite": 2000, "mariadb": 500}
CLIENTS = 16
# 16 simulated hosts of 64 cores x 2000 MHz and 256 GiB: 256 Small Instances each (500 MHz, 512 MiB), 3,480 below the
# cluster's 85 % threshold. Four 1 TiB pools (x2 overprovisioning, 85 %): ~3,480 root disks of 2 GiB.
HOSTS = 16
POOLS = 4


def _zone(tag: str) -> zonespec.CloudSpec:
    return zonespec.parse({"name": f"scale-{tag}", "zones": [{
        "name": f"scale-{tag}", "dns1": "10.147.28.6", "internal_dns1": "10.147.28.6",
        "network_type": "Advanced", "guest_cidr": "10.0.0.0/16",
        "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": "100-200",
                               "traffic_types": ["Guest", "Management", "Public"], "providers": ["VirtualRouter"]}],
        "public_ranges": [{"vlan": "50", "gateway": "192.168.2.1", "netmask": "255.255.255.0",
                           "start": "192.168.2.2", "end": "192.168.2.200"}],
        "pods": [{"name": f"pod-{tag}", "gateway": "172.16.0.1", "netmask": "255.255.0.0", "start": "172.16.0.2",
                  "end": "172.16.255.200", "clusters": [{
                      "name": f"cl-{tag}", "hypervisor": "Simulator",
                      "hosts": [{"url": f"http://sim/{tag}/h{i}?cpu=64&mhz=2000&mem=256G", "username": "root",
                                 "password": "password"} for i in range(HOSTS)],
                      "primary_storage": [{"name": f"ps{k}-{tag}", "url": f"nfs://10.147.28.6:/export/{tag}-{k}"}
                                          for k in range(POOLS)]}]}],
        "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS", "url": f"nfs://10.147.28.6:/export/ss-{tag}"}],
    }]}, "<test>")


class Signed:
    """One client thread's signed connection."""

    def __init__(self, served: Served) -> None:
        self.endpoint, keys = served.endpoint, served.keys
        self.apikey, self.secret = keys["apikey"], keys["secretkey"]
        self.http = httpx.Client(timeout=120)

    def __call__(self, command: str, **params: Any) -> tuple[int, dict[str, Any]]:
        q = {"command": command, "response": "json", "apiKey": self.apikey, **params}
        q["signature"] = sign(q, self.secret)
        r = self.http.get(self.endpoint, params=q)
        return r.status_code, next(iter(r.json().values()))


def _in_threads(work: Callable[[int, Signed], None], served: Served) -> None:
    errors: list[BaseException] = []

    def run(k: int) -> None:
        c = Signed(served)
        try:
            work(k, c)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(e)
        finally:
            c.http.close()

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.timeout(1800)
def test_two_thousand_concurrent_deploys_all_run(served_factory: Callable[..., Served], backend: Any) -> None:
    vms = VMS_BY_BACKEND[backend.name]
    served = served_factory()
    client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.05, job_timeout=120)
    Deployer(client).deploy(_zone("s"))
    zone = client.one("listZones", "zone", name="scale-s")
    offering = client.one("listServiceOfferings", "serviceoffering", name="Small Instance")
    assert zone and offering
    template: dict[str, Any] | None = None
    deadline = time.monotonic() + 60
    while template is None and time.monotonic() < deadline:  # the image store seeds the template by a job
        template = next((t for t in client.items("listTemplates", "template", templatefilter="all",
                                                 zoneid=zone["id"]) if t.get("isready")), None)
        time.sleep(0.1)
    assert template, "no ready template in the zone"
    client.close()

    jobs: dict[int, str] = {}
    refused: list[str] = []

    def submit(k: int, call: Signed) -> None:
        for i in range(k, vms, CLIENTS):
            status, body = call("deployVirtualMachine", zoneid=zone["id"], serviceofferingid=offering["id"],
                                templateid=template["id"], name=f"vm-{i}")
            if status == 200:
                jobs[i] = body["jobid"]
            else:
                refused.append(f"vm-{i}: {status} {body.get('errortext')}")

    _in_threads(submit, served)
    assert refused == []
    assert len(jobs) == vms

    results: dict[int, dict[str, Any]] = {}

    def await_jobs(k: int, call: Signed) -> None:
        pending = [i for i in jobs if i % CLIENTS == k]
        deadline = time.monotonic() + 1500
        while pending and time.monotonic() < deadline:
            still = []
            for i in pending:
                status, job = call("queryAsyncJobResult", jobid=jobs[i])
                if status == 200 and job.get("jobstatus") == 0:
                    still.append(i)
                else:
                    results[i] = {"status": status, **job}
            pending = still
            if pending:
                time.sleep(1)

    _in_threads(await_jobs, served)
    assert len(results) == vms, f"{vms - len(results)} jobs still pending"
    failed = {i: r for i, r in results.items() if r["status"] != 200 or r.get("jobstatus") != 1}
    assert failed == {}, list(failed.values())[:5]
    assert {r["jobresult"]["virtualmachine"]["state"] for r in results.values()} == {"Running"}

    c = Signed(served)
    running: list[dict[str, Any]] = []
    for page in range(1, vms // 500 + 2):
        status, body = c("listVirtualMachines", listall="true", state="Running", page=str(page), pagesize="500")
        assert status == 200, body
        running += body.get("virtualmachine", [])
    c.http.close()
    assert len(running) == vms
    assert sorted(vm["name"] for vm in running) == sorted(f"vm-{i}" for i in range(vms))
    addresses = [vm["nic"][0]["ipaddress"] for vm in running]
    assert len(set(addresses)) == vms  # no address handed out twice
    assert "database is locked" not in served.log_path.read_text(errors="replace")
