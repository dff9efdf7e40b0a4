"""Guest networking with real QEMU (TCG) guests through the CloudStack API of a served devcloud (issue 5 "done when").

Advanced zone (one served instance, this machine's libvirt as a KVM host, the sandbox public bridge): two guests on
one isolated network get their addresses from the router's DHCP and resolve each other by name; port forwarding on
the source-NAT IP lets the host SSH in with the deployed key pair, deleting the firewall rule blocks it; static NAT
maps a second public IP to a guest; a load-balancer rule alternates between the guests' busybox httpd (user data);
a guest reads its user data from the router's metadata service; restartNetwork cleanup=true and a server restart
(with the router's namespace gone meanwhile) bring every rule back.

Basic zone (a second served instance): security-group rules allow and then block ping and SSH between two guests
(checked from inside a guest, reached from the router's namespace).

Two guests per zone, booted once (module-scoped); everything created is removed at the end, whatever happened.
Addresses: a public /24 from 198.18.100-250 that no route uses (RFC 2544 benchmark space) becomes a connected route
on the cloud's public bridge, so it must never cover anything this machine really talks to (here the registry proxy
sits in 203.0.113.0/24 and the uplink in 192.0.2.0/24: a public range there would hijack them).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libvirt  # noqa: E402
import pytest

from tests.conftest import Served, free_public_net, start_served

# Guests boot under TCG on a shared 2-core machine: a module (servers, 4 boots, restarts) can take minutes.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

URI = "qemu:///system"
BOOT_TIMEOUT = 180.0
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (qemu:///system, network namespaces, nftables)"
    for tool in ("qemu-img", "genisoimage", "mkfs.ext2", "extlinux", "ip", "nft", "dnsmasq", "haproxy", "ssh",
                 "ssh-keygen", "curl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run .ci/services.sh)"
    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError as exc:
        return f"{URI} does not answer ({exc.get_error_message()}); run .ci/services.sh"
    return None


_reason = _skip_reason()
if _reason:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=_reason)]  # type: ignore[list-item]


def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except Exception as exc:  # noqa: BLE001 - reported at the deadline
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def ssh(key: Path, host: str, command: str, *, port: int = 22, netns: str | None = None,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    cmd = (["ip", "netns", "exec", netns] if netns else []) + ["ssh", "-i", str(key), "-p", str(port), *SSH_OPTS,
                                                               f"root@{host}", command]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 255, "", "timeout")


def ssh_ok(key: Path, host: str, command: str, **kw: Any) -> str:
    """Output of ``command`` once SSH answers (polls: the guest may still be booting)."""
    def go() -> str | None:
        r = ssh(key, host, command, **kw)
        return r.stdout if r.returncode == 0 else None
    return wait_for(go, BOOT_TIMEOUT, f"ssh root@{host} {command!r}", interval=2)  # type: ignore[no-any-return]


def ssh_blocked(key: Path, host: str, **kw: Any) -> bool:
    return ssh(key, host, "true", **kw).returncode != 0


def http(url: str) -> str | None:
    r = subprocess.run(["curl", "-s", "-m", "3", url], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


PUBLIC_NET = free_public_net()
PUBLIC_GW = f"{PUBLIC_NET}.1"
HTTPD_USERDATA = ("#!/bin/sh\nmkdir -p /www\nhostname > /www/index.html\nbusybox httpd -p 80 -h /www\n"
                  "echo {marker} httpd-started\n")


# ------------------------------------------------------------------------------------------------ a served cloud

class Cloud:
    def __init__(self, served: Served, workdir: Path, zone: dict[str, Any], template: dict[str, Any],
                 offering: dict[str, Any], keypair: str, key: Path, tag: str) -> None:
        self.served, self.workdir, self.zone, self.template, self.offering = served, workdir, zone, template, offering
        self.keypair, self.key, self.tag = keypair, key, tag
        self.api = served.client()
        self.vms: list[str] = []

    def run(self, command: str, timeout: float = 180.0, **kw: Any) -> dict[str, Any]:
        started = self.api(command, **kw)
        job = self.api.wait(started["jobid"], timeout=timeout)
        assert job["jobstatus"] == 1, f"{command} failed: {job.get('jobresult')}\n{self.served.log()}"
        return job.get("jobresult", {})  # type: ignore[no-any-return]

    def deploy(self, **kw: Any) -> dict[str, Any]:
        started = self.api("deployVirtualMachine", **{"zoneid": self.zone["id"], "templateid": self.template["id"],
                                                      "serviceofferingid": self.offering["id"],
                                                      "keypair": self.keypair, **kw})
        self.vms.append(started["id"])
        job = self.api.wait(started["jobid"], timeout=240)
        assert job["jobstatus"] == 1, f"deploy failed: {job.get('jobresult')}\n{self.served.log()}"
        return job["jobresult"]["virtualmachine"]  # type: ignore[no-any-return]

    def console(self, vm: dict[str, Any]) -> str:
        try:
            return (self.workdir / "console" / f"{vm['instancename']}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, vm: dict[str, Any], pattern: str) -> re.Match[str]:
        rx = re.compile(pattern)
        try:
            return wait_for(lambda: rx.search(self.console(vm)), BOOT_TIMEOUT,  # type: ignore[no-any-return]
                            f"{pattern!r} on the console of {vm['name']}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- console tail ---\n{self.console(vm)[-2500:]}") from None

    def restart_server(self, between: Callable[[], None] | None = None) -> None:
        s = self.served
        s.kill(signal.SIGTERM)
        if between is not None:
            between()
        self.served = start_served(s.state_dir, s.db_url, extra_env={"DEVCLOUD_CONSOLE_LOG_DIR":
                                                                     str(self.workdir / "console")},
                                   ports=(s.api_port, s.integration_port))
        self.api = self.served.client()

    def routers(self) -> dict[str, dict[str, Any]]:
        """router id -> last applied spec (from the state dir): find a router's namespace by its gateway."""
        out = {}
        for d in (self.served.state_dir / "network" / "routers").glob("*/spec.json"):
            out[d.parent.name] = json.loads(d.read_text())
        return out

    def netns_of(self, gateway: str) -> str:
        for rid, spec in self.routers().items():
            if spec["guest"]["gateway_cidr"].split("/")[0] == gateway:
                return f"dcr-{rid}"
        raise AssertionError(f"no router with gateway {gateway}: {self.routers()}")


def zone_spec(tag: str, workdir: Path, basic: bool) -> Any:
    from appliance import zonespec

    pool = workdir / "primary"
    store = workdir / "secondary"
    zone: dict[str, Any] = {
        "name": f"net-{tag}", "dns1": PUBLIC_GW, "internal_dns1": PUBLIC_GW,
        "pods": [{"name": f"pod-{tag}", "gateway": "198.18.251.1", "netmask": "255.255.255.0",
                  "start": "198.18.251.10", "end": "198.18.251.50",
                  "clusters": [{"name": f"kvm-{tag}", "hypervisor": "KVM", "hosts": [{"url": URI}],
                                "primary_storage": [{"name": f"ps-{tag}", "url": f"file://{pool}"}]}]}],
        "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS", "url": f"file://{store}"}],
    }
    if basic:
        zone.update({"network_type": "Basic", "security_groups": True, "guest_cidr": None,
                     "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["L3"],
                                            "traffic_types": ["Guest", "Management"],
                                            "providers": ["VirtualRouter", "SecurityGroupProvider"]}],
                     "guest_ranges": [{"gateway": "10.253.7.1", "netmask": "255.255.255.0",
                                       "start": "10.253.7.10", "end": "10.253.7.60"}]})
    else:
        zone.update({"network_type": "Advanced", "guest_cidr": "10.252.7.0/24",
                     "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"],
                                            "vlan": "700-719", "traffic_types": ["Guest", "Management", "Public"],
                                            "providers": ["VirtualRouter"]}],
                     "public_ranges": [{"vlan": "untagged", "gateway": PUBLIC_GW, "netmask": "255.255.255.0",
                                        "start": f"{PUBLIC_NET}.10", "end": f"{PUBLIC_NET}.40"}]})
    return zonespec.parse({
        "name": f"net-test-{tag}",
        "global_settings": {"expunge.delay": "0", "expunge.interval": "600", "vm.sync.interval": "2",
                            "instance.name": f"N{tag}"},
        "zones": [zone],
        "service_offerings": [{"name": f"tiny-{tag}", "cpu": 1, "speed": 500, "memory": 160}],
    }, source="test_network_guests")


def advanced_zone_spec(tag: str, *, source: str, host_url: str, primary_url: str, secondary_url: str,
                       public_net: str, pod_net: str, guest_cidr: str, vlan: str, instance_prefix: str,
                       sync_interval: str = "2") -> Any:
    """An advanced zone named ``net-<tag>`` with one KVM host, virtual routers, the public range
    ``<public_net>.10-40`` (gateway ``.1``) and a tiny offering ``tiny-<tag>``; what served_cloud expects."""
    from appliance import zonespec

    gateway = f"{public_net}.1"
    return zonespec.parse({
        "name": f"{source}-{tag}",
        "global_settings": {"expunge.delay": "0", "expunge.interval": "600", "vm.sync.interval": sync_interval,
                            "instance.name": f"{instance_prefix}{tag}"},
        "zones": [{
            "name": f"net-{tag}", "dns1": gateway, "internal_dns1": gateway, "network_type": "Advanced",
            "guest_cidr": guest_cidr,
            "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": vlan,
                                   "traffic_types": ["Guest", "Management", "Public"],
                                   "providers": ["VirtualRouter"]}],
            "public_ranges": [{"vlan": "untagged", "gateway": gateway, "netmask": "255.255.255.0",
                               "start": f"{public_net}.10", "end": f"{public_net}.40"}],
            "pods": [{"name": f"pod-{tag}", "gateway": f"{pod_net}.1", "netmask": "255.255.255.0",
                      "start": f"{pod_net}.10", "end": f"{pod_net}.50",
                      "clusters": [{"name": f"kvm-{tag}", "hypervisor": "KVM", "hosts": [{"url": host_url}],
                                    "primary_storage": [{"name": f"ps-{tag}", "url": primary_url}]}]}],
            "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS", "url": secondary_url}],
        }],
        "service_offerings": [{"name": f"tiny-{tag}", "cpu": 1, "speed": 500, "memory": 160}],
    }, source=source)


@contextlib.contextmanager
def served_cloud(image: Path, basic: bool, spec: Callable[[str, Path, bool], Any] | None = None,
                 public_gw: str | None = None) -> Iterator[Cloud]:
    """A served instance with one zone (``zone_spec`` here, or another module's ``spec``), the tiny template and a
    key pair; everything removed afterwards."""
    from appliance.client import CloudClient
    from appliance.deploy import Deployer

    base = Path("/var/lib/devcloud")
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="test-net-guests.", dir=base))
    workdir.chmod(0o755)
    tag = uuid.uuid4().hex[:6]
    for d in ("primary", "secondary", "console", "state"):
        (workdir / d).mkdir()
    tiny = workdir / "tiny.qcow2"
    shutil.copyfile(image, tiny)
    links_before = set(os.listdir("/sys/class/net"))
    served = start_served(workdir / "state", f"sqlite:///{workdir / 'state' / 'devcloud.db'}",
                          extra_env={"DEVCLOUD_CONSOLE_LOG_DIR": str(workdir / "console")})
    cloud: Cloud | None = None
    try:
        client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.1, job_timeout=120)
        try:
            Deployer(client).deploy((spec or zone_spec)(tag, workdir, basic))
        finally:
            client.close()
        api = served.client()
        zone = api("listZones", name=f"net-{tag}")["zone"][0]
        tmpl = api("registerTemplate", name=f"tiny-{tag}", displaytext="tiny", url=f"file://{tiny}",
                   format="QCOW2", hypervisor="KVM", zoneid=zone["id"], ostypeid=None, ispublic=True,
                   sshkeyenabled=True)["template"][0]
        wait_for(lambda: api("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"], 120,
                 "the tiny template")
        so = api("listServiceOfferings", name=f"tiny-{tag}")["serviceoffering"][0]
        key = workdir / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        api("registerSSHKeyPair", name=f"kp-{tag}", publickey=key.with_suffix(".pub").read_text().strip())
        cloud = Cloud(served, workdir, zone, tmpl, so, f"kp-{tag}", key, tag)
        yield cloud
    finally:
        _teardown(cloud, served, workdir, links_before, public_gw or PUBLIC_GW)


def sg_enforcer(served: Served) -> Any:
    """The enforcer as the server has it: the security-group tables are named after the cloud's id."""
    from management.db.session import Database
    from management.network.security_groups import SecurityGroupEnforcer
    from management.services import naming

    db = Database(served.db_url)
    try:
        with db.session(write=False) as s:
            table = naming.sg_table(naming.cloud_id(s))
    finally:
        db.dispose()
    return SecurityGroupEnforcer(served.state_dir / "network", table)


def _teardown(cloud: Cloud | None, served: Served, workdir: Path, links_before: set[str],
              public_gw: str = PUBLIC_GW) -> None:
    if cloud is not None:
        served = cloud.served
        for vm_id in cloud.vms:
            with contextlib.suppress(Exception):
                cloud.run("destroyVirtualMachine", id=vm_id, expunge=True, timeout=90)
        with contextlib.suppress(Exception):
            for net in cloud.api("listNetworks", listall=True).get("network", []):
                with contextlib.suppress(Exception):
                    cloud.run("deleteNetwork", id=net["id"], timeout=60)
    enf = None
    with contextlib.suppress(Exception):
        enf = sg_enforcer(served)
    served.kill(signal.SIGTERM)
    net_state = workdir / "state" / "network"
    if (net_state / "routers").is_dir():
        from management.network.vr import NamespaceRouterProvider

        prov = NamespaceRouterProvider(net_state)
        for rid in prov.routers():
            with contextlib.suppress(Exception):
                prov.destroy(rid)
    if enf is not None:
        for f in (net_state / "sg").glob("*.nft"):
            with contextlib.suppress(Exception):
                enf.remove(f.stem)
    conn = libvirt.open(URI)
    try:
        for dom in conn.listAllDomains(0):
            with contextlib.suppress(libvirt.libvirtError):
                if str(workdir) in dom.XMLDesc(0):
                    if dom.isActive():
                        dom.destroy()
                    if dom.isPersistent():
                        dom.undefineFlags(0)
        for p in conn.listAllStoragePools(0):
            with contextlib.suppress(libvirt.libvirtError):
                if str(workdir) in p.XMLDesc(0):
                    for vol in p.listAllVolumes() if p.isActive() else []:
                        with contextlib.suppress(libvirt.libvirtError):
                            vol.delete(0)
                    if p.isActive():
                        p.destroy()
                    p.undefine()
    finally:
        conn.close()
    from management.network import host as nethost

    for name in sorted(set(os.listdir("/sys/class/net")) - links_before):
        if name.startswith(("dcb", "dcp")):
            with contextlib.suppress(Exception):
                nethost.remove_bridge(name)
    for name in os.listdir("/sys/class/net"):  # a public bridge another cloud still uses keeps only its addresses
        if name.startswith("dcp"):
            nethost.run(["ip", "addr", "del", f"{public_gw}/24", "dev", name], check=False)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def image() -> Path:
    from appliance.image import build_tiny_image

    return build_tiny_image()


# ------------------------------------------------------------------------------------------------ advanced zone

@pytest.fixture(scope="module")
def adv(image: Path) -> Iterator[dict[str, Any]]:
    with served_cloud(image, basic=False) as cloud:
        api = cloud.api
        off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
            "networkoffering"][0]
        net = api("createNetwork", zoneid=cloud.zone["id"], name=f"iso-{cloud.tag}", displaytext="iso",
                  networkofferingid=off["id"])["network"]
        marker = "NETTEST-" + uuid.uuid4().hex[:8]
        userdata = HTTPD_USERDATA.format(marker=marker)
        vms = [cloud.deploy(name=f"g{i}-{cloud.tag}", networkids=net["id"],
                            userdata=base64.b64encode(userdata.encode()).decode()) for i in (1, 2)]
        net = api("listNetworks", id=net["id"])["network"][0]
        snat = [i for i in api("listPublicIpAddresses", associatednetworkid=net["id"])["publicipaddress"]
                if i["issourcenat"]][0]
        yield {"cloud": cloud, "net": net, "vms": vms, "snat": snat, "marker": marker, "userdata": userdata,
               "rules": {}}


def _pf_ssh(env: dict[str, Any]) -> None:
    """Firewall rule + port forwarding 2222 -> g1:22 on the source-NAT IP (kept for the later tests)."""
    cloud, snat, g1 = env["cloud"], env["snat"], env["vms"][0]
    if "fw" not in env["rules"]:
        env["rules"]["fw"] = cloud.run("createFirewallRule", ipaddressid=snat["id"], protocol="tcp", startport=2222,
                                       endport=2222, cidrlist="0.0.0.0/0")["firewallrule"]
    if "pf" not in env["rules"]:
        env["rules"]["pf"] = cloud.run("createPortForwardingRule", ipaddressid=snat["id"], protocol="tcp",
                                       publicport=2222, privateport=22, virtualmachineid=g1["id"],
                                       openfirewall=False)["portforwardingrule"]


def test_dhcp_addresses_and_names(adv: dict[str, Any]) -> None:
    cloud, (g1, g2) = adv["cloud"], adv["vms"]
    for vm in (g1, g2):
        ip = vm["nic"][0]["ipaddress"]
        cloud.wait_console(vm, rf"DEVCLOUD-DHCP-BOUND ip={re.escape(ip)} router={re.escape(adv['net']['gateway'])}")
    _pf_ssh(adv)
    host = adv["snat"]["ipaddress"]
    assert ssh_ok(cloud.key, host, "hostname", port=2222).strip() == g1["name"]
    out = ssh_ok(cloud.key, host, f"nslookup {g2['name']} {adv['net']['gateway']}", port=2222)
    assert g2["nic"][0]["ipaddress"] in out, out
    domain = adv["net"].get("networkdomain") or "cs.internal"
    out = ssh_ok(cloud.key, host, f"nslookup {g2['name']}.{domain} {adv['net']['gateway']}", port=2222)
    assert g2["nic"][0]["ipaddress"] in out, out


def test_port_forwarding_and_firewall(adv: dict[str, Any]) -> None:
    cloud = adv["cloud"]
    _pf_ssh(adv)
    host = adv["snat"]["ipaddress"]
    assert ssh_ok(cloud.key, host, "hostname", port=2222).strip() == adv["vms"][0]["name"]
    cloud.run("deleteFirewallRule", id=adv["rules"].pop("fw")["id"])
    wait_for(lambda: ssh_blocked(cloud.key, host, port=2222), 30, "SSH blocked after deleting the firewall rule")
    _pf_ssh(adv)  # open again for the tests below
    assert ssh_ok(cloud.key, host, "hostname", port=2222).strip() == adv["vms"][0]["name"]


def test_user_data_from_the_metadata_service(adv: dict[str, Any]) -> None:
    cloud = adv["cloud"]
    _pf_ssh(adv)
    gw = adv["net"]["gateway"]
    cmd = (f"printf 'GET /latest/user-data HTTP/1.0\\r\\nHost: {gw}\\r\\n\\r\\n' | nc -w 3 {gw} 80; "
           f"printf 'GET /latest/meta-data/local-hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {gw} 80")
    out = ssh_ok(cloud.key, adv["snat"]["ipaddress"], cmd, port=2222)
    assert "200" in out.splitlines()[0] and adv["marker"] in out and adv["vms"][0]["name"] in out, out


def _static_nat(env: dict[str, Any]) -> str:
    cloud, g2 = env["cloud"], env["vms"][1]
    if "snat2" not in env["rules"]:
        ip = cloud.run("associateIpAddress", networkid=env["net"]["id"])["ipaddress"]
        cloud.api("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=g2["id"])
        cloud.run("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=22, endport=22,
                  cidrlist="0.0.0.0/0")
        env["rules"]["snat2"] = ip
    return env["rules"]["snat2"]["ipaddress"]  # type: ignore[no-any-return]


def test_static_nat_maps_a_second_ip(adv: dict[str, Any]) -> None:
    cloud, g2 = adv["cloud"], adv["vms"][1]
    ip = _static_nat(adv)
    assert ssh_ok(cloud.key, ip, "hostname").strip() == g2["name"]
    listed = cloud.api("listPublicIpAddresses", id=adv["rules"]["snat2"]["id"])["publicipaddress"][0]
    assert listed["isstaticnat"] and listed["virtualmachineid"] == g2["id"]


def _lb(env: dict[str, Any]) -> str:
    cloud = env["cloud"]
    if "lb" not in env["rules"]:
        ip = cloud.run("associateIpAddress", networkid=env["net"]["id"])["ipaddress"]
        lb = cloud.run("createLoadBalancerRule", publicipid=ip["id"], name=f"web-{cloud.tag}",
                       algorithm="roundrobin", publicport=80, privateport=80, openfirewall=True)["loadbalancer"]
        cloud.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=",".join(v["id"] for v in env["vms"]))
        env["rules"]["lb"] = ip
    return env["rules"]["lb"]["ipaddress"]  # type: ignore[no-any-return]


def lb_answers(ip: str, n: int = 6) -> list[str]:
    def all_answer() -> list[str] | None:
        got = [http(f"http://{ip}/") for _ in range(n)]
        return got if all(got) else None  # type: ignore[return-value]
    return wait_for(all_answer, BOOT_TIMEOUT, f"the load balancer on {ip} to answer", interval=2)  # type: ignore


def test_load_balancer_alternates(adv: dict[str, Any]) -> None:
    cloud = adv["cloud"]
    for vm in adv["vms"]:
        cloud.wait_console(vm, adv["marker"] + " httpd-started")
    got = lb_answers(_lb(adv))
    names = {v["name"] for v in adv["vms"]}
    assert set(got) == names, got
    assert all(a != b for a, b in zip(got, got[1:], strict=False)), f"round robin should alternate: {got}"


def _everything_works(env: dict[str, Any]) -> None:
    cloud, (g1, g2) = env["cloud"], env["vms"]
    host = env["snat"]["ipaddress"]
    assert ssh_ok(cloud.key, host, "hostname", port=2222).strip() == g1["name"]
    out = ssh_ok(cloud.key, host, f"nslookup {g2['name']} {env['net']['gateway']}", port=2222)
    assert g2["nic"][0]["ipaddress"] in out, out
    assert ssh_ok(cloud.key, _static_nat(env), "hostname").strip() == g2["name"]
    got = lb_answers(_lb(env))
    assert set(got) == {g1["name"], g2["name"]}, got
    # still closed where no rule opens it
    assert ssh_blocked(cloud.key, host, port=22)
    # DHCP still serves the guest its address (a fresh lease from the rebuilt dnsmasq)
    out = ssh_ok(cloud.key, host, "udhcpc -n -q -i eth0 -s /bin/true -t 3 -T 2 2>&1; echo rc=$?", port=2222)
    assert "rc=0" in out, out


def test_restart_network_cleanup_and_server_restart_bring_rules_back(adv: dict[str, Any]) -> None:
    cloud = adv["cloud"]
    _pf_ssh(adv)
    _static_nat(adv)
    _lb(adv)
    _everything_works(adv)
    before = set(cloud.routers())
    cloud.run("restartNetwork", id=adv["net"]["id"], cleanup=True)
    assert set(cloud.routers()) == before
    _everything_works(adv)

    def lose_routers() -> None:  # as after a host reboot: the namespaces and daemons are gone
        from management.network.vr import NamespaceRouterProvider

        prov = NamespaceRouterProvider(cloud.served.state_dir / "network")
        for rid in prov.routers():
            prov.destroy(rid)
            assert not Path(f"/run/netns/dcr-{rid}").exists()

    cloud.restart_server(between=lose_routers)
    routers = cloud.api("listRouters", networkid=adv["net"]["id"])["router"]
    assert [r["state"] for r in routers] == ["Running"]
    _everything_works(adv)


# ------------------------------------------------------------------------------------------------ basic zone

def test_basic_zone_security_groups_allow_then_block(image: Path) -> None:
    with served_cloud(image, basic=True) as cloud:
        api = cloud.api
        gw = "10.253.7.1"
        sg = api("createSecurityGroup", name=f"sgt-{cloud.tag}")["securitygroup"]
        # the router's address may SSH in (that is how this test reaches the guests)
        cloud.run("authorizeSecurityGroupIngress", securitygroupid=sg["id"], protocol="tcp", startport=22,
                  endport=22, cidrlist=f"{gw}/32")
        a, b = (cloud.deploy(name=f"s{i}-{cloud.tag}", securitygroupnames=sg["name"]) for i in (1, 2))
        assert [g["name"] for g in a["securitygroup"]] == [sg["name"]]
        ipa, ipb = a["nic"][0]["ipaddress"], b["nic"][0]["ipaddress"]
        for vm, ip in ((a, ipa), (b, ipb)):
            cloud.wait_console(vm, rf"DEVCLOUD-DHCP-BOUND ip={re.escape(ip)} router={re.escape(gw)}")
        ns = cloud.netns_of(gw)
        # both guests' sshd answer the router (DHCP comes before sshd: under load b's may still be starting, and
        # then a blocked banner below would prove nothing and an allowed one would fail)
        assert ssh_ok(cloud.key, ipa, "hostname", netns=ns).strip() == a["name"]
        assert ssh_ok(cloud.key, ipb, "hostname", netns=ns).strip() == b["name"]
        ping = f"ping -c 1 -W 2 {ipb} >/dev/null && echo PING-OK || echo PING-FAIL"
        banner = f"nc -w 3 {ipb} 22 </dev/null | head -c 20; echo; echo NC-DONE"

        def from_a(cmd: str) -> str:
            return ssh_ok(cloud.key, ipa, cmd, netns=ns)

        # nothing opens a -> b yet
        assert "PING-FAIL" in from_a(ping)
        assert "SSH-" not in from_a(banner)
        member = {"usersecuritygrouplist[0].account": "admin", "usersecuritygrouplist[0].group": sg["name"]}
        icmp = cloud.run("authorizeSecurityGroupIngress", securitygroupid=sg["id"], protocol="icmp", icmptype=-1,
                         icmpcode=-1, **member)["securitygroup"]["ingressrule"][0]
        tcp = cloud.run("authorizeSecurityGroupIngress", securitygroupid=sg["id"], protocol="tcp", startport=22,
                        endport=22, **member)["securitygroup"]["ingressrule"][0]
        assert "PING-OK" in from_a(ping)
        assert "SSH-" in from_a(banner)
        cloud.run("revokeSecurityGroupIngress", id=icmp["ruleid"])
        cloud.run("revokeSecurityGroupIngress", id=tcp["ruleid"])
        assert "PING-FAIL" in from_a(ping)
        assert "SSH-" not in from_a(banner)
        # ping allowed again; a server restart with the host's chains gone (as after a host reboot) restores them:
        # ping still passes, SSH between the guests is still blocked
        cloud.run("authorizeSecurityGroupIngress", securitygroupid=sg["id"], protocol="icmp", icmptype=-1,
                  icmpcode=-1, **member)
        assert "PING-OK" in from_a(ping)

        def lose_chains() -> None:
            enf = sg_enforcer(cloud.served)
            for f in list(enf.dir.glob("*.nft")):
                enf.remove(f.stem)
            assert "SSH-" in from_a(banner)  # no chains: nothing filters

        cloud.restart_server(between=lose_chains)
        assert "PING-OK" in from_a(ping)
        assert "SSH-" not in from_a(banner)
        # a stopped guest's chains are gone; started again, its rules are back
        cloud.run("stopVirtualMachine", id=b["id"], forced=True)
        cloud.run("startVirtualMachine", id=b["id"])
        cloud.wait_console(b, r"(?s)DEVCLOUD-GUEST-READY.*DEVCLOUD-GUEST-READY")
        assert ssh_ok(cloud.key, ipb, "hostname", netns=ns).strip() == b["name"]
        assert "PING-OK" in from_a(ping)
        assert "SSH-" not in from_a(banner)
