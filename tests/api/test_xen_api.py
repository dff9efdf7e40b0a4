"""XenServer pools through the CloudStack API, against the in-process fake XAPI pool (no real XAPI runs here).

addHost with a pool master URL + credentials adds every pool member; a deploy reaches Running on the pool;
failures (SR full, pool unreachable, bad credentials) surface as CloudStack errors and leave nothing behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from management.drivers.xenapi.fake import FakeXapi
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api

GiB = 1024**3
MASTER, MEMBER, NFS = "192.0.2.21", "192.0.2.22", "192.0.2.50"


@pytest.fixture
def fake() -> Iterator[FakeXapi]:
    pool = FakeXapi(hosts=(("xs-1", MASTER), ("xs-2", MEMBER)), password="s3cret", host_memory=16 * GiB)
    pool.add_nfs_sr("NFS primary", NFS, "/export/primary")  # the pool administrator attached the export
    pool.install()
    yield pool
    pool.uninstall()


@pytest.fixture
def xen_zone(server: InProcess, tmp_path: Path) -> dict[str, Any]:
    """Zone, pod, XenServer cluster, NFS primary storage on the cluster, file image store (rows)."""
    from management.models.infra import Cluster, ImageStore, Pod, StoragePool, Zone
    from management.models.offerings import ServiceOffering
    from management.services import configuration
    from management.services.storage import templates

    tag = secrets.token_hex(3)
    with server.server.runtime.db.session() as s:
        zone = Zone(name=f"xen-{tag}", network_type="Basic", allocation_state="Enabled", dns1="8.8.8.8",
                    internal_dns1="10.0.0.1")
        s.add(zone)
        s.flush()
        pod = Pod(name=f"pod-{tag}", zone_id=zone.id, gateway="172.16.20.1", netmask="255.255.255.0",
                  start_ip="172.16.20.2", end_ip="172.16.20.100")
        s.add(pod)
        s.flush()
        cluster = Cluster(name=f"xs-pool-{tag}", zone_id=zone.id, pod_id=pod.id, hypervisor_type="XenServer")
        s.add(cluster)
        s.flush()
        s.add(StoragePool(name=f"nfs-{tag}", zone_id=zone.id, pod_id=pod.id, cluster_id=cluster.id, scope="CLUSTER",
                          pool_type="NetworkFilesystem", url=f"nfs://{NFS}/export/primary", host_address=NFS,
                          path="/export/primary", capacity_bytes=0, status="Up"))
        store_dir = tmp_path / f"store-{tag}"
        store_dir.mkdir()
        store = ImageStore(name=f"ss-{tag}", zone_id=zone.id, url=f"file://{store_dir}", protocol="file",
                           provider="NFS", local_path=str(store_dir))
        s.add(store)
        s.flush()
        templates.on_image_store_added(s, store)
        configuration.set_value(s, "cluster.threshold.enabled", "false")
        so = s.scalar(select(ServiceOffering).where(ServiceOffering.name == "Small Instance"))
        return {"zone": zone.uuid, "pod": pod.uuid, "cluster": cluster.uuid, "small": so.uuid, "tag": tag,
                "tmp": tmp_path}


def add_pool(api: ApiClient, z: dict[str, Any], password: str = "s3cret") -> list[dict[str, Any]]:
    resp = api("addHost", zoneid=z["zone"], podid=z["pod"], clusterid=z["cluster"], hypervisor="XenServer",
               url=f"http://{MASTER}", username="root", password=password)
    return resp["host"]  # type: ignore[no-any-return]


def register_template(api: ApiClient, z: dict[str, Any]) -> str:
    src = z["tmp"] / "tiny.vhd"
    src.write_bytes(b"conectix" + b"\0" * (256 * 1024))
    row = api("registerTemplate", name=f"tiny-xen-{z['tag']}", displaytext="tiny", format="VHD",
              hypervisor="XenServer", url=src.as_uri(), zoneid=z["zone"], ostypeid=None)["template"][0]

    def ready() -> bool:
        listed = api("listTemplates", templatefilter="all", id=row["id"]).get("template", [])
        return bool(listed) and bool(listed[0]["isready"])

    wait_for(ready, timeout=30, what="template ready")
    return str(row["id"])


def deploy(api: ApiClient, z: dict[str, Any], template: str) -> dict[str, Any]:
    return api("deployVirtualMachine", serviceofferingid=z["small"], zoneid=z["zone"], templateid=template)


def leftovers(fake: FakeXapi) -> dict[str, Any]:
    """Guest objects left in the pool (templates prepared on the SR are expected to stay)."""
    vdis = fake.records("VDI", lambda r: "devcloud_template" not in r["other_config"])
    return {"vms": fake.guest_vms(), "vdis": vdis, "vbds": fake.records("VBD"), "vifs": fake.records("VIF")}


NOTHING = {"vms": {}, "vdis": {}, "vbds": {}, "vifs": {}}


def test_add_pool_master_adds_every_pool_host(api: ApiClient, xen_zone: dict[str, Any], fake: FakeXapi) -> None:
    added = add_pool(api, xen_zone)
    assert sorted(h["ipaddress"] for h in added) == [MASTER, MEMBER]
    assert {h["hypervisor"] for h in added} == {"XenServer"}
    assert {h["clusterid"] for h in added} == {xen_zone["cluster"]}
    listed = api("listHosts", clusterid=xen_zone["cluster"])["host"]
    assert sorted(h["name"] for h in listed) == ["xs-1", "xs-2"]
    assert all(h["state"] == "Up" and h["hypervisorversion"] == "8.2.1" for h in listed)
    assert all(h["cpunumber"] == 8 and h["memorytotal"] == 16 * GiB for h in listed)
    # the member's driver logged in through the master (HOST_IS_SLAVE redirect), with the given password
    logins = [args for name, args in fake.calls if name == "session.login_with_password"]
    assert logins and all(a == ("root",) for a in logins)
    # the NFS primary storage is the pool's NFS SR, sized by it
    pool = api("listStoragePools", clusterid=xen_zone["cluster"])["storagepool"][0]
    assert pool["disksizetotal"] == fake.nfs_size
    # adding the master again is refused
    status, err = api.error("addHost", zoneid=xen_zone["zone"], podid=xen_zone["pod"], clusterid=xen_zone["cluster"],
                            hypervisor="XenServer", url=f"http://{MASTER}", username="root", password="s3cret")
    assert status == 431 and "already exists" in err["errortext"]


def test_deploy_on_the_pool_runs_and_expunge_leaves_nothing(api: ApiClient, xen_zone: dict[str, Any],
                                                            fake: FakeXapi) -> None:
    add_pool(api, xen_zone)
    template = register_template(api, xen_zone)
    started = deploy(api, xen_zone, template)
    job = api.wait(started["jobid"])
    assert job["jobstatus"] == 1, job
    vm = job["jobresult"]["virtualmachine"]
    assert vm["state"] == "Running" and vm["hypervisor"] == "XenServer"
    running = {r["other_config"]["devcloud_uuid"]: r for r in fake.guest_vms().values()}
    assert running[vm["id"]]["power_state"] == "Running"
    # the calls a real pool receives: template VDI cloned on the NFS SR, VM, root and CD VBDs, VIFs, async start
    names = fake.call_names()
    seq = [n for n in names if n in ("Async.VDI.clone", "VM.create", "VBD.create", "VIF.create",
                                     "Async.VM.start_on")]
    vifs = ["VIF.create"] * len(vm.get("nic", []))  # a Basic zone without a guest network has no NIC
    assert seq == ["Async.VDI.clone", "VM.create", "VBD.create", "VBD.create", *vifs, "Async.VM.start_on"]

    api.run("stopVirtualMachine", id=vm["id"])
    assert fake.guest_vms() and all(r["power_state"] == "Halted" for r in fake.guest_vms().values())
    api.run("startVirtualMachine", id=vm["id"])
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    wait_for(lambda: leftovers(fake) == NOTHING, timeout=20, what="pool emptied")


def test_sr_full_gives_533_and_leaves_nothing(api: ApiClient, xen_zone: dict[str, Any], fake: FakeXapi) -> None:
    add_pool(api, xen_zone)
    template = register_template(api, xen_zone)
    first = api.wait(deploy(api, xen_zone, template)["jobid"])["jobresult"]["virtualmachine"]
    before = leftovers(fake)
    fake.fill_sr("NFS primary")
    job = api.wait(deploy(api, xen_zone, template)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 533, job
    assert "primary storage is full" in job["jobresult"]["errortext"]
    assert leftovers(fake) == before  # the clone that did not fit left nothing; the first VM is untouched
    assert [r["other_config"]["devcloud_uuid"] for r in fake.guest_vms().values()] == [first["id"]]


def test_unreachable_pool(api: ApiClient, xen_zone: dict[str, Any], fake: FakeXapi) -> None:
    fake.set_unreachable(True)
    status, err = api.error("addHost", zoneid=xen_zone["zone"], podid=xen_zone["pod"],
                            clusterid=xen_zone["cluster"], hypervisor="XenServer", url=f"http://{MASTER}",
                            username="root", password="s3cret")
    assert status in (530, 534) and "unreachable" in err["errortext"] and MASTER in err["errortext"], err
    assert api("listHosts", clusterid=xen_zone["cluster"]) == {}

    fake.set_unreachable(False)
    add_pool(api, xen_zone)
    template = register_template(api, xen_zone)
    fake.set_unreachable(True)
    job = api.wait(deploy(api, xen_zone, template)["jobid"])
    # every host of the pool failed: CloudStack's "no deployment" (533), naming the unreachable host
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] in (530, 533, 534), job
    assert "unreachable" in job["jobresult"]["errortext"], job
    fake.set_unreachable(False)
    assert leftovers(fake) == NOTHING


def test_bad_credentials_are_refused(api: ApiClient, xen_zone: dict[str, Any], fake: FakeXapi) -> None:
    status, err = api.error("addHost", zoneid=xen_zone["zone"], podid=xen_zone["pod"],
                            clusterid=xen_zone["cluster"], hypervisor="XenServer", url=f"http://{MASTER}",
                            username="root", password="wrong")
    assert status == 530 and "authentication failure" in err["errortext"], err
