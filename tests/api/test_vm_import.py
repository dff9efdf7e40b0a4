"""VM import commands on a simulator zone: the simulator has no foreign domains to offer, so the commands answer as
CloudStack does for a cluster whose hypervisor has no import support; VMware/external sources are refused with
the reason; import tasks list nothing. The real import runs on KVM (tests/integration/test_kvm_storage.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def test_import_commands_on_a_simulator_cluster(api: ApiClient, zone: dict[str, Any]) -> None:
    status, err = api.error("listUnmanagedInstances", clusterid=zone["cluster"])
    assert status == 431 and "not supported for hypervisor Simulator" in err["errortext"]
    job = api.wait(api("importUnmanagedInstance", clusterid=zone["cluster"], name="x",
                       serviceofferingid=zone["small"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431
    vm = deploy(api, zone)
    job = api.wait(api("unmanageVirtualMachine", id=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and "not allowed for hypervisor Simulator" in job["jobresult"]["errortext"]
    status, err = api.error("listVmsForImport", zoneid=zone["zone"], host="10.1.1.1", hypervisor="VMware")
    assert status == 431 and "KVM only" in err["errortext"]
    job = api.wait(api("importVm", zoneid=zone["zone"], clusterid=zone["cluster"], name="v", hypervisor="KVM",
                       importsource="vmware", serviceofferingid=zone["small"])["jobid"])
    assert job["jobstatus"] == 2 and "vCenter" in job["jobresult"]["errortext"]
    assert api("listImportVmTasks", zoneid=zone["zone"]) == {}
    user = api.client_for(api.new_account())
    status, _ = user.error("listUnmanagedInstances", clusterid=zone["cluster"])
    assert status == 401
