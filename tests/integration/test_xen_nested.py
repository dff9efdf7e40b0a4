"""A nested Xen host: Debian's Xen 4.17 with a dom0 booted under QEMU TCG on this machine, its libvirt (libxl
driver) reached over ``xen+tcp://127.0.0.1:<hostfwd port>/system``, added to a zone through the CloudStack API.

Step timings (image build, dom0 boot, libvirt ready, addHost, ...) are printed and written to
``$DEVCLOUD_XEN_TIMINGS`` (JSON) when that is set. Slow: the first image build runs mmdebstrap (minutes), every
module boots one dom0 under TCG.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt  # noqa: E402
import pytest

from tests.conftest import free_public_net

# a dom0 boots in ~30 s on an idle machine, but takes 8+ min under TCG on a loaded 2-core one
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]
PUBLIC_NET = free_public_net()

TIMINGS: dict[str, float] = {}


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (mmdebstrap --mode=root, loop-free mkfs, qemu)"
    for tool in ("mmdebstrap", "qemu-system-x86_64", "qemu-img", "mkfs.ext4", "apt-cache"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


_reason = _skip_reason()
if _reason:
    pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400), pytest.mark.skip(reason=_reason)]


def _record(step: str, seconds: float) -> None:
    TIMINGS[step] = round(seconds, 2)
    print(f"[xen timing] {step}: {seconds:.1f}s")
    out = os.environ.get("DEVCLOUD_XEN_TIMINGS")
    if out:
        Path(out).write_text(json.dumps(TIMINGS, indent=2))


@pytest.fixture(scope="module")
def xen_image() -> Any:
    from appliance.xen import build_xen_image

    t = time.monotonic()
    image = build_xen_image()
    _record("image_build (cached if fast)", time.monotonic() - t)
    return image


@pytest.fixture(scope="module")
def xen_host(xen_image: Any) -> Iterator[Any]:
    from appliance.xen import NestedXen

    def boot(timeout: float) -> tuple[Any, Path]:
        workdir = Path(tempfile.mkdtemp(prefix="test-xen-nested."))
        # a second NIC on a tap of this machine: the PV guest test puts it into its network's bridge
        host = NestedXen(xen_image, workdir, guest_tap=f"dcxt{uuid.uuid4().hex[:6]}")
        host.start()
        try:
            timings = host.wait_ready(timeout=timeout)
        except BaseException:
            _remove(host, workdir)
            raise
        _record("dom0_boot", timings["dom0_boot"])
        _record("libvirt_ready", timings["libvirt_ready"])
        return host, workdir

    try:
        host, workdir = boot(300)  # ~60 s here, 130 s under CI's load
    except TimeoutError as exc:
        # dom0's kernel under TCG now and then stops in its early ACPI/PCI probe and never goes on (CI: nothing
        # after "PCI add device" for 600 s): that boot is given up and the host booted once more
        print(f"[xen nested] dom0 did not come up; booting it again. Its console's end:\n{str(exc)[-1500:]}")
        host, workdir = boot(600)
    try:
        yield host
    finally:
        _remove(host, workdir)


def _remove(host: Any, workdir: Path) -> None:
    host.stop()
    if host.guest_tap and os.path.exists(f"/sys/class/net/{host.guest_tap}"):
        os.system(f"ip link del {host.guest_tap}")  # noqa: S605 - our own tap
    if os.environ.get("DEVCLOUD_KEEP_XEN_WORKDIR"):
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def test_image_is_cached_by_checksum(xen_image: Any) -> None:
    from appliance.xen import builder

    assert xen_image.key == builder.cache_key(builder.resolve_versions())
    for path in (xen_image.hypervisor, xen_image.kernel, xen_image.initrd, xen_image.root):
        assert path.stat().st_size > 0, path
    assert xen_image.hypervisor.read_bytes()[:4] == b"\x7fELF"  # decompressed: QEMU's multiboot wants the ELF
    # a cache hit returns the same files untouched (no rebuild)
    stamps = {p: p.stat().st_mtime_ns for p in (xen_image.hypervisor, xen_image.kernel, xen_image.initrd,
                                                xen_image.root)}
    assert builder.build_xen_image().directory == xen_image.directory
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_libxl_answers_over_the_remote_uri(xen_host: Any) -> None:
    conn = libvirt.open(xen_host.uri)
    try:
        assert conn.getType() == "Xen"
        caps = conn.getCapabilities()
        assert "<os_type>xen</os_type>" in caps  # PV guests
        # dom0 itself is domain 0
        assert 0 in conn.listDomainsID()
    finally:
        conn.close()
    console = xen_host.console()
    assert "Xen version 4.17" in console


def test_driver_host_info_over_the_remote_uri(xen_host: Any) -> None:
    from management.drivers.registry import driver_for_host

    drv = driver_for_host(xen_host.uri, "Xen")
    try:
        drv.connect()
        info = drv.host_info()
        assert info.hypervisor_type == "Xen" and info.virt_type == "xen"
        assert info.extra["driver"] == "Xen"
        assert info.cpu_cores >= 1 and info.memory_bytes > 256 * 1024 * 1024
    finally:
        drv.close()


def _zone_spec(tag: str, uri: str, store_dir: Path) -> Any:
    from appliance import zonespec

    return zonespec.parse({
        "name": f"xen-test-{tag}",
        "global_settings": {"expunge.delay": "0", "expunge.interval": "600", "instance.name": f"X{tag}"},
        "zones": [{
            "name": f"xen-{tag}", "network_type": "Advanced", "dns1": "192.0.2.1", "internal_dns1": "192.0.2.1",
            "guest_cidr": "10.252.1.0/24",
            "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": "620-639",
                                   "traffic_types": ["Guest", "Management", "Public"],
                                   "providers": ["VirtualRouter"]}],
            "public_ranges": [{"vlan": "untagged", "gateway": f"{PUBLIC_NET}.1", "netmask": "255.255.255.0",
                               "start": f"{PUBLIC_NET}.10", "end": f"{PUBLIC_NET}.30"}],
            "pods": [{"name": f"pod-{tag}", "gateway": "198.18.252.1", "netmask": "255.255.255.0",
                      "start": "198.18.252.10", "end": "198.18.252.50",
                      "clusters": [{"name": f"xen-{tag}", "hypervisor": "Xen", "hosts": [{"url": uri}],
                                    "primary_storage": [{"name": f"ps-{tag}",
                                                         "url": "file:///var/lib/devcloud/primary"}]}]}],
            "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS", "url": f"file://{store_dir}"}],
        }],
        "service_offerings": [{"name": f"tiny-{tag}", "cpu": 1, "speed": 500, "memory": 128}],
    }, source="test_xen_nested")


@pytest.fixture(scope="module")
def cloud(xen_host: Any) -> Iterator[dict[str, Any]]:
    """A served devcloud with one advanced zone whose only cluster is the nested Xen host (added by the Deployer
    through createZone/addCluster/addHost/createStoragePool)."""
    from appliance.client import CloudClient
    from appliance.deploy import Deployer
    from tests.conftest import start_served

    workdir = Path(tempfile.mkdtemp(prefix="test-xen-api."))
    tag = uuid.uuid4().hex[:6]
    state, store = workdir / "state", workdir / "secondary"
    store.mkdir()
    bridges_before = set(os.listdir("/sys/class/net"))
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}")
    env: dict[str, Any] = {"served": served, "tag": tag, "workdir": workdir, "vms": []}
    try:
        client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.1, job_timeout=300)
        t = time.monotonic()
        try:
            Deployer(client).deploy(_zone_spec(tag, xen_host.uri, store))
        finally:
            client.close()
        _record("zone_with_addHost", time.monotonic() - t)
        env["api"] = served.client()
        env["zone"] = env["api"]("listZones", name=f"xen-{tag}")["zone"][0]
        yield env
    finally:
        api = env.get("api")
        for vm_id in env["vms"]:
            with contextlib.suppress(Exception):
                job = api("destroyVirtualMachine", id=vm_id, expunge=True)
                api.wait(job["jobid"], timeout=120)
        with contextlib.suppress(Exception):
            for net in api("listNetworks", listall=True).get("network", []):
                with contextlib.suppress(Exception):
                    api.wait(api("deleteNetwork", id=net["id"])["jobid"], timeout=120)
        served.kill(signal.SIGTERM)
        if xen_host.guest_tap and os.path.exists(f"/sys/class/net/{xen_host.guest_tap}"):
            # dom0's tap sits in the PV test's network bridge until xen_host ends: take it out, so the now unused
            # bridge is removed below (it leaked after every CI run)
            os.system(f"ip link set {xen_host.guest_tap} nomaster")  # noqa: S605 - our own tap
        with contextlib.suppress(Exception):
            from tests.integration.test_kvm_api import cleanup_host_networking

            cleanup_host_networking(state, bridges_before, public_gateway=f"{PUBLIC_NET}.1/24")
        for name in sorted(set(os.listdir("/sys/class/net")) - bridges_before):
            if name.startswith("dcb") and os.path.isdir(f"/sys/class/net/{name}/bridge") \
                    and not os.listdir(f"/sys/class/net/{name}/brif"):
                os.system(f"ip link del {name}")  # noqa: S605 - the PV test's network bridge, now unused
        shutil.rmtree(workdir, ignore_errors=True)


def test_add_xen_host_through_the_api(xen_host: Any, cloud: dict[str, Any]) -> None:
    api, zone = cloud["api"], cloud["zone"]
    hosts = api("listHosts", zoneid=zone["id"], type="Routing")["host"]
    assert len(hosts) == 1, hosts
    host = hosts[0]
    assert host["hypervisor"] == "Xen" and host["state"] == "Up", host
    assert int(host["cpunumber"]) >= 1 and int(host["memorytotal"]) > 256 * 1024 * 1024
    pools = api("listStoragePools", zoneid=zone["id"])["storagepool"]
    assert pools and pools[0]["state"] == "Up", pools
    # the primary pool is a libvirt dir pool inside dom0
    conn = libvirt.open(xen_host.uri)
    try:
        p = conn.storagePoolLookupByName(pools[0]["id"])
        assert p.isActive() and "<path>/var/lib/devcloud/primary</path>" in p.XMLDesc(0)
    finally:
        conn.close()


def _read_console(uri: str, vm_uuid: str, pattern: str, timeout: float) -> str:
    """The PV console (hvc0, a pty in dom0) read over the remote libvirt connection until ``pattern``."""
    import re
    import threading

    conn = libvirt.open(uri)
    out = bytearray()
    done = threading.Event()
    try:
        dom = conn.lookupByUUIDString(vm_uuid)
        stream = conn.newStream(0)
        dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)

        def reader() -> None:
            with contextlib.suppress(Exception):
                while not done.is_set():
                    data = stream.recv(4096)
                    if not data:
                        break
                    out.extend(data)
                    if re.search(pattern, out.decode(errors="replace")):
                        break
            done.set()

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        done.wait(timeout)
        done.set()
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        return out.decode(errors="replace")
    finally:
        conn.close()


def test_pv_guest_deploys_gets_an_address_and_is_destroyed(xen_host: Any, cloud: dict[str, Any]) -> None:
    """The tiny guest as a Xen PV domain through the CloudStack API: template registered for hypervisor Xen, PV
    boot files on the host, an isolated network whose virtual router (a namespace on this machine) serves DHCP
    over dom0's second NIC, deploy -> Running -> DHCP address on the console -> destroy (domain and disks gone)."""
    import re

    from appliance.image import build_tiny_image
    from appliance.xen import pvboot
    from management.network import host as nethost

    api, zone, tag = cloud["api"], cloud["zone"], cloud["tag"]
    if not xen_host.guest_tap:
        pytest.skip("dom0 was booted without a guest NIC")
    kernel, initrd = pvboot.build_pv_boot()
    pvboot.install_on_host(xen_host.uri, kernel, initrd)
    tiny = cloud["workdir"] / "tiny.qcow2"
    shutil.copyfile(build_tiny_image(), tiny)
    tmpl = api("registerTemplate", name=f"tiny-pv-{tag}", displaytext="tiny PV", url=f"file://{tiny}",
               format="QCOW2", hypervisor="Xen", zoneid=zone["id"], ispublic=True)["template"][0]
    deadline = time.monotonic() + 120
    while not api("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"]:
        assert time.monotonic() < deadline, "template not ready"
        time.sleep(0.5)
    off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]
    net = api("createNetwork", zoneid=zone["id"], name=f"xnet-{tag}", displaytext="xen guests",
              networkofferingid=off["id"])["network"]
    # the network's bridge on this machine, with dom0's second NIC (our tap) in it
    bridge = "dcb" + net["id"].replace("-", "")[:11]
    nethost.ensure_bridge(bridge)
    nethost.run(["ip", "link", "set", xen_host.guest_tap, "master", bridge])
    nethost.run(["ip", "link", "set", xen_host.guest_tap, "up"])
    so = api("listServiceOfferings", name=f"tiny-{tag}")["serviceoffering"][0]
    t = time.monotonic()
    started = api("deployVirtualMachine", zoneid=zone["id"], templateid=tmpl["id"], serviceofferingid=so["id"],
                  networkids=net["id"], name=f"pv-{tag}")
    cloud["vms"].append(started["id"])
    job = api.wait(started["jobid"], timeout=600)
    if job["jobstatus"] != 1:
        libxl = xen_host.run_in_dom0("tail -n 25 /var/log/libvirt/libxl/libxl-driver.log "
                                     "/var/log/libvirt/libxl/i-*.log "
                                     "/var/log/xen/xen-hotplug.log /var/log/xen/qemu-dm-*.log")
        raise AssertionError(f"deploy failed: {job.get('jobresult')}\n--- libxl in dom0 ---\n{libxl[-6000:]}")
    _record("deploy (API job)", time.monotonic() - t)
    vm = job["jobresult"]["virtualmachine"]
    assert vm["state"] == "Running" and vm["hypervisor"] == "Xen", vm
    conn = libvirt.open(xen_host.uri)
    try:
        dom = conn.lookupByUUIDString(vm["id"])
        xml = dom.XMLDesc(0)
        assert "type='xen'" in xml and "xenpv" in xml and "<target dev='xvda' bus='xen'/>" in xml, xml
        assert dom.isActive()
    finally:
        conn.close()
    ip = vm["nic"][0]["ipaddress"]
    t = time.monotonic()
    console = _read_console(xen_host.uri, vm["id"], r"DEVCLOUD-GUEST-READY[^\n]*ip=\S+", timeout=600)
    m = re.search(r"DEVCLOUD-GUEST-READY[^\n]*ip=(\S+)", console)
    assert m, f"no READY line on the PV console:\n{console[-3000:]}"
    _record("guest_boot (to DHCP address)", time.monotonic() - t)
    assert m.group(1).split("/")[0] == ip, (m.group(0), ip)
    t = time.monotonic()
    job = api.wait(api("destroyVirtualMachine", id=vm["id"], expunge=True)["jobid"], timeout=300)
    assert job["jobstatus"] == 1, job
    cloud["vms"].remove(vm["id"])
    _record("destroy", time.monotonic() - t)
    conn = libvirt.open(xen_host.uri)
    try:
        with pytest.raises(libvirt.libvirtError):
            conn.lookupByUUIDString(vm["id"])
    finally:
        conn.close()
