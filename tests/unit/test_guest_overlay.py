"""The guest network overlay's pieces that need no second host: VNI and group, the domain XML the hook reads, the
hook's choice of operations, and the NIC specs the server gives a remote host's VM (the real VXLAN path is
tests/integration/test_remote_guest_network.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from management.drivers.base import NicSpec
from management.drivers.libvirt import overlay
from management.drivers.libvirt.driver import LibvirtDriver, _overlays
from management.drivers.libvirt.xml import DevcloudMetadata, DomainConfig, InterfaceConfig

pytestmark = pytest.mark.unit


def test_vni_and_group_follow_the_network_uuid() -> None:
    assert overlay.vni_for("a1b2c3d4-0000-4000-8000-000000000000") == 0xA1B2C3
    assert overlay.group_for(0xA1B2C3) == "239.161.178.195"
    assert overlay.vni_for("00000000-0000-4000-8000-000000000000") == 1  # VNI 0 is not used
    assert overlay.vxlan_device("dcb0123456789a") == "dcx0123456789a"
    with pytest.raises(overlay.OverlayError):
        overlay.vxlan_device("cloudbr0")


def test_overlays_and_mtu_survive_the_domain_xml() -> None:
    ov = overlay.Overlay(bridge="dcb0123456789a", vni=42, group="239.0.0.42", peer="100.127.9.1")
    dom = DomainConfig(name="i-2-3-VM", uuid=str(uuid.uuid4()),
                       interfaces=[InterfaceConfig(source=ov.bridge, mac="02:00:00:00:00:01", mtu=1450)],
                       devcloud=DevcloudMetadata(vm_uuid="u", overlays=[ov]))
    xml = dom.to_xml()
    back = DomainConfig.from_xml(xml)
    assert back.interfaces[0].mtu == 1450 and back.devcloud is not None and back.devcloud.overlays == [ov]
    assert overlay.overlays_in(xml) == [ov]  # what the hook reads is what the driver wrote


def test_one_overlay_per_bridge_and_only_for_stretched_nics() -> None:
    a = NicSpec(mac="02:00:00:00:00:01", bridge="dcb0000000000a", overlay=(10, "239.0.0.10", "10.0.0.2"))
    b = NicSpec(mac="02:00:00:00:00:02", bridge="dcb0000000000a", overlay=(10, "239.0.0.10", "10.0.0.2"))
    local = NicSpec(mac="02:00:00:00:00:03", bridge="dcb0000000000b")
    assert [o.bridge for o in _overlays((a, b, local))] == ["dcb0000000000a"]
    assert LibvirtDriver._iface_config(a).mtu == overlay.GUEST_MTU
    assert LibvirtDriver._iface_config(local).mtu is None


@pytest.mark.parametrize("args", [["vm", "started", "begin", "-"], ["vm", "stopped", "end", "-"],
                                  ["vm", "reconnect", "begin", "-"]])
def test_the_hook_ignores_other_operations(args: list[str]) -> None:
    assert overlay.hook(args, "not xml at all") == 0


def test_the_hook_does_nothing_for_a_domain_without_overlays() -> None:
    xml = DomainConfig(name="plain", devcloud=DevcloudMetadata(vm_uuid="u")).to_xml()
    for op in (["vm", "prepare", "begin", "-"], ["vm", "release", "end", "-"], ["vm", "migrate", "begin", "-"]):
        assert overlay.hook(op, xml) == 0


def test_the_hook_refuses_a_bad_overlay_with_a_message(tmp_path: Path) -> None:
    bad = (f'<domain><metadata><i:instance xmlns:i="{overlay.DEVCLOUD_NS}"><i:overlay bridge="dcb1" vni="x"/>'
           '</i:instance></metadata></domain>')
    from appliance.host.prepare import qemu_hook_text

    hook = tmp_path / "qemu"  # as host preparation installs it
    hook.write_text(qemu_hook_text().replace("/usr/bin/python3", sys.executable, 1))
    hook.chmod(0o755)
    proc = subprocess.run([str(hook), "vm", "prepare", "begin", "-"], input=bad, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("devcloud overlay: bad devcloud overlay element"), proc.stderr


def test_a_remote_hosts_nics_are_stretched_and_a_local_hosts_are_not(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The server side: a NIC of a VM on a remote libvirt host carries its network's VNI and group and this
    machine's address toward the host; on a local host, or one reached over loopback (a port forward: no network
    to carry VXLAN, and VXLAN on `lo` hands the bridge its own frames back), it does not."""
    from sqlalchemy import event

    from management.db.base import Base
    from management.db.session import Database
    from management.models.compute import VirtualMachine
    from management.models.infra import Host, Zone
    from management.models.network import Network, Nic
    from management.services.compute.vm import _nic_specs
    from management.services.infra import kvm

    assert kvm.overlay_peer("xen+tcp://127.0.0.1:16509/system") is None  # the real route lookup: lo
    routes = {"192.0.2.10": ("eth9", "192.0.2.1")}  # a host on a network of this machine's
    monkeypatch.setattr(overlay, "route_to", lambda address: routes.get(address, ("lo", "127.0.0.1")))
    db = Database(f"sqlite:///{tmp_path / 'o.db'}")
    Base.metadata.create_all(db.engine)

    @event.listens_for(db.engine, "connect")
    def _no_foreign_keys(conn, _record):  # type: ignore[no-untyped-def]
        conn.execute("PRAGMA foreign_keys=OFF")  # only the rows the NIC specs read

    db.engine.dispose()
    with db.session() as s:
        zone = Zone(name="z")
        s.add(zone)
        s.flush()
        net = Network(name="n", zone_id=zone.id, network_offering_id=1, account_id=1, domain_id=1)
        vm = VirtualMachine(name="v", instance_name="i-2-1-VM", zone_id=zone.id, account_id=1, domain_id=1,
                            service_offering_id=1)
        remote = Host(name="far", zone_id=zone.id, hypervisor_type="KVM", url="qemu+tcp://192.0.2.10/system")
        forwarded = Host(name="fwd", zone_id=zone.id, hypervisor_type="KVM", url="qemu+tcp://127.0.0.1:16509/system")
        local = Host(name="here", zone_id=zone.id, hypervisor_type="KVM", url="qemu:///system")
        s.add_all([net, vm, remote, forwarded, local])
        s.flush()
        s.add(Nic(instance_id=vm.id, network_id=net.id, mac_address="02:00:00:00:00:05", device_id=0))
        s.flush()
        (far,) = _nic_specs(s, vm, remote)
        (fwd,) = _nic_specs(s, vm, forwarded)
        (here,) = _nic_specs(s, vm, local)
        vni = overlay.vni_for(net.uuid)
        assert far.bridge == fwd.bridge == here.bridge == "dcb" + net.uuid.replace("-", "")[:11]
        assert far.overlay == (vni, overlay.group_for(vni), "192.0.2.1")
        assert fwd.overlay is None and here.overlay is None
