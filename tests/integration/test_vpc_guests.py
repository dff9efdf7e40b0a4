"""VPCs with real QEMU (TCG) guests through the CloudStack API of a served devcloud (issue 16 "done when").

One served cloud (advanced zone, this machine's libvirt as a KVM host), four guests booted once for the module:
- VPC A (10.51.0.0/16): tier web (web1) whose ACL lets SSH in from anywhere; tier db (db1, db2: busybox httpd from
  user data) with the internal-LB offering, whose ACL lets only the web tier in on port 80 (a second list adds 22);
- VPC B (10.52.0.0/16): tier app (b1), default_allow.
Checks: SSH to web1 through port forwarding on A's public IP; web1 reaches db1 on 80 only, the outside not at all;
replaceNetworkACLList changes that within seconds; an internal load balancer on db alternates between db1 and db2
for web1; a site-to-site VPN between A and B (Connected, b1 pinged from web1, gone when deleted); a remote-access
VPN client namespace reaches web1 with a user's credentials, not with a wrong password or after removeVpnUser;
restartVPC cleanup=true and a server restart (namespaces gone meanwhile) restore every rule.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_network_guests import (
    BOOT_TIMEOUT,
    HTTPD_USERDATA,
    PUBLIC_NET,
    Cloud,
    served_cloud,
    ssh,
    ssh_ok,
    wait_for,
)
from tests.integration.test_network_guests import _skip_reason as _base_skip

# Four TCG guests, two VPC routers, strongSwan, two server starts: minutes on a shared 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

_reason = _base_skip()
if _reason is None:
    for tool in ("swanctl", "setsid", "unshare"):
        import shutil

        if shutil.which(tool) is None:
            _reason = f"{tool} is not installed (Debian strongswan-swanctl, util-linux)"
    if not Path("/usr/lib/ipsec/charon").exists():
        _reason = "/usr/lib/ipsec/charon is missing (Debian strongswan-charon + libcharon-extra-plugins)"
if _reason:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=_reason)]  # type: ignore[list-item]

TIMES: dict[str, float] = {}
CLIENT = f"{PUBLIC_NET}.250/24"  # the zone's public /24 (served_cloud's)


def _acl(cloud: Cloud, vpc: dict[str, Any], name: str, *items: dict[str, Any]) -> dict[str, Any]:
    acl = cloud.run("createNetworkACLList", name=name, description=name, vpcid=vpc["id"])["networkacllist"]
    for number, item in enumerate(items, start=1):
        cloud.run("createNetworkACL", aclid=acl["id"], number=number, action="Allow", traffictype="Ingress", **item)
    return acl


def _offering(cloud: Cloud, name: str) -> str:
    return cloud.api("listNetworkOfferings", name=name)["networkoffering"][0]["id"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def image() -> Path:
    from appliance.image import build_tiny_image

    return build_tiny_image()


def _cleanup(cloud: Cloud) -> None:
    """VPCs go before the generic teardown of served_cloud (which knows isolated networks only)."""
    import contextlib

    from management.network.internal_lb import InternalLbProvider
    from management.network.vpc_router import VpcRouterProvider

    for vm_id in cloud.vms:
        with contextlib.suppress(Exception):
            cloud.run("destroyVirtualMachine", id=vm_id, expunge=True, timeout=90)
    with contextlib.suppress(Exception):
        for vpc in cloud.api("listVPCs", listall=True).get("vpc", []):
            for net in vpc.get("network", []):
                with contextlib.suppress(Exception):
                    cloud.run("deleteNetwork", id=net["id"], timeout=60)
            with contextlib.suppress(Exception):
                cloud.run("deleteVPC", id=vpc["id"], timeout=60)
    state = cloud.served.state_dir / "network"
    for prov in (VpcRouterProvider(state), InternalLbProvider(state)):
        for rid in prov.routers():
            with contextlib.suppress(Exception):
                prov.destroy(rid)


@pytest.fixture(scope="module")
def env(image: Path) -> Iterator[dict[str, Any]]:
    with served_cloud(image, basic=False) as cloud:
        try:
            yield from _env(cloud)
        finally:
            _cleanup(cloud)


def _env(cloud: Cloud) -> Iterator[dict[str, Any]]:
    api, zone = cloud.api, cloud.zone
    vo = api("listVPCOfferings", name="Default VPC offering")["vpcoffering"][0]
    t0 = time.monotonic()
    a = cloud.run("createVPC", name=f"a-{cloud.tag}", cidr="10.51.0.0/16", vpcofferingid=vo["id"],
                  zoneid=zone["id"])["vpc"]
    TIMES["createVPC (router up)"] = time.monotonic() - t0
    b = cloud.run("createVPC", name=f"b-{cloud.tag}", cidr="10.52.0.0/16", vpcofferingid=vo["id"],
                  zoneid=zone["id"])["vpc"]
    web_acl = _acl(cloud, a, "web-acl", {"protocol": "tcp", "startport": 22, "endport": 22},
                   {"protocol": "icmp", "icmptype": -1, "icmpcode": -1})
    db_acl = _acl(cloud, a, "db-acl", {"protocol": "tcp", "startport": 80, "endport": 80,
                                       "cidrlist": "10.51.1.0/24"},
                  {"protocol": "icmp", "icmptype": -1, "icmpcode": -1, "cidrlist": "10.51.1.0/24"})
    db_acl_ssh = _acl(cloud, a, "db-acl-ssh", {"protocol": "tcp", "startport": 80, "endport": 80,
                                               "cidrlist": "10.51.1.0/24"},
                      {"protocol": "tcp", "startport": 22, "endport": 22, "cidrlist": "10.51.1.0/24"})
    allow = [x for x in api("listNetworkACLLists")["networkacllist"] if x["name"] == "default_allow"][0]
    tier_off = _offering(cloud, "DefaultIsolatedNetworkOfferingForVpcNetworks")
    web = api("createNetwork", name="web", displaytext="web", zoneid=zone["id"], vpcid=a["id"],
              networkofferingid=tier_off, gateway="10.51.1.1", netmask="255.255.255.0",
              aclid=web_acl["id"])["network"]
    db = api("createNetwork", name="db", displaytext="db", zoneid=zone["id"], vpcid=a["id"],
             networkofferingid=_offering(cloud, "DefaultIsolatedNetworkOfferingForVpcNetworksWithInternalLB"),
             gateway="10.51.2.1", netmask="255.255.255.0", aclid=db_acl["id"])["network"]
    app = api("createNetwork", name="app", displaytext="app", zoneid=zone["id"], vpcid=b["id"],
              networkofferingid=tier_off, gateway="10.52.1.1", netmask="255.255.255.0",
              aclid=allow["id"])["network"]
    marker = "VPCTEST-" + uuid.uuid4().hex[:8]
    httpd = base64.b64encode(HTTPD_USERDATA.format(marker=marker).encode()).decode()
    vms = {}
    for name, net, userdata in (("web1", web, None), ("db1", db, httpd), ("db2", db, httpd),
                                ("b1", app, None)):
        kw = {"userdata": userdata} if userdata else {}
        vms[name] = cloud.deploy(name=f"{name}-{cloud.tag}", networkids=net["id"], **kw)
    for name in ("db1", "db2"):
        cloud.wait_console(vms[name], marker + " httpd-started")
    pub = cloud.run("associateIpAddress", vpcid=a["id"])["ipaddress"]
    cloud.run("createPortForwardingRule", ipaddressid=pub["id"], privateport=22, publicport=2222,
              protocol="tcp", virtualmachineid=vms["web1"]["id"], networkid=web["id"])
    yield {"cloud": cloud, "a": a, "b": b, "web": web, "db": db, "app": app, "vms": vms, "pub": pub,
           "acls": {"db": db_acl, "db_ssh": db_acl_ssh}, "marker": marker}
    print("\nVPC guest timings: " + ", ".join(f"{k}={v:.2f}s" for k, v in TIMES.items()))


def ip_of(env: dict[str, Any], name: str) -> str:
    return env["vms"][name]["nic"][0]["ipaddress"]  # type: ignore[no-any-return]


def on_web1(env: dict[str, Any], command: str) -> str:
    cloud = env["cloud"]
    return ssh_ok(cloud.key, env["pub"]["ipaddress"], command, port=2222)


def nc(host: str, port: int) -> str:
    """A shell line printing what host:port answers to an HTTP GET (empty when it does not answer)."""
    return f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port} 2>/dev/null | tail -1; echo; echo NC-DONE"


def test_web_tier_answers_ssh_through_port_forwarding(env: dict[str, Any]) -> None:
    assert on_web1(env, "hostname").strip() == env["vms"]["web1"]["name"]
    # nothing else is forwarded: port 22 of the public IP is closed
    assert ssh(env["cloud"].key, env["pub"]["ipaddress"], "true", timeout=15).returncode != 0


def test_db_tier_reachable_from_web_only_on_allowed_ports(env: dict[str, Any]) -> None:
    db1 = ip_of(env, "db1")
    assert env["vms"]["db1"]["name"] in on_web1(env, nc(db1, 80))
    out = on_web1(env, f"nc -w 3 {db1} 22 </dev/null | head -c 20; echo; echo NC-DONE")
    assert "SSH-" not in out, out
    # from outside (a namespace on the public bridge routing the VPC's CIDR to its source-NAT IP): nothing
    from management.network.testing import Guest

    snat = env["cloud"].api("listPublicIpAddresses", vpcid=env["a"]["id"], issourcenat=True)["publicipaddress"][0]
    bridge = _public_bridge(env)
    outside = Guest("outside", f"dco{env['cloud'].tag}", f"vqo{env['cloud'].tag}", "02:dc:00:00:07:77", bridge,
                    env["cloud"].workdir).create()
    try:
        outside.set_static(f"{PUBLIC_NET}.251/24")
        outside.exec("ip", "route", "add", "10.51.0.0/16", "via", snat["ipaddress"])
        got = outside.exec("sh", "-c", nc(db1, 80), check=False, timeout=15).stdout
        assert env["vms"]["db1"]["name"] not in got, got
    finally:
        outside.destroy()


def _public_bridge(env: dict[str, Any]) -> str:
    spec = next(iter(env["cloud"].served.state_dir.joinpath("network", "vpcrouters").glob("*/spec.json")))
    import json

    return json.loads(spec.read_text())["public"]["bridge"]  # type: ignore[no-any-return]


def test_replace_acl_list_changes_what_passes_within_seconds(env: dict[str, Any]) -> None:
    cloud, db1 = env["cloud"], ip_of(env, "db1")
    banner = f"nc -w 3 {db1} 22 </dev/null | head -c 20; echo; echo NC-DONE"
    t0 = time.monotonic()
    cloud.run("replaceNetworkACLList", aclid=env["acls"]["db_ssh"]["id"], networkid=env["db"]["id"])
    TIMES["replaceNetworkACLList job"] = time.monotonic() - t0
    assert "SSH-" in on_web1(env, banner)
    cloud.run("replaceNetworkACLList", aclid=env["acls"]["db"]["id"], networkid=env["db"]["id"])
    assert "SSH-" not in on_web1(env, banner)


def _ilb(env: dict[str, Any]) -> str:
    cloud = env["cloud"]
    found = cloud.api("listLoadBalancers", networkid=env["db"]["id"]).get("loadbalancer")
    if found:
        return found[0]["sourceipaddress"]  # type: ignore[no-any-return]
    lb = cloud.run("createLoadBalancer", name=f"ilb-{cloud.tag}", networkid=env["db"]["id"],
                   sourceipaddressnetworkid=env["db"]["id"], scheme="Internal", algorithm="roundrobin",
                   sourceport=80, instanceport=80)["loadbalancer"]
    cloud.run("assignToLoadBalancerRule", id=lb["id"],
              virtualmachineids=",".join(env["vms"][n]["id"] for n in ("db1", "db2")))
    return lb["sourceipaddress"]  # type: ignore[no-any-return]


def _ilb_answers(env: dict[str, Any], ip: str, n: int = 4) -> list[str]:
    cmd = "; ".join(nc(ip, 80).replace("; echo NC-DONE", "") for _ in range(n))
    def all_answer() -> list[str] | None:
        got = [ln.strip() for ln in on_web1(env, cmd).splitlines() if ln.strip()]
        return got if len(got) == n else None
    return wait_for(all_answer, BOOT_TIMEOUT, "the internal load balancer to answer", interval=2)  # type: ignore


def test_internal_lb_alternates_between_two_tier_vms(env: dict[str, Any]) -> None:
    got = _ilb_answers(env, _ilb(env))
    names = {env["vms"][n]["name"] for n in ("db1", "db2")}
    assert set(got) == names, got
    assert all(x != y for x, y in zip(got, got[1:], strict=False)), f"round robin should alternate: {got}"
    vms = env["cloud"].api.call("listInternalLoadBalancerVMs", networkid=env["db"]["id"]).json()
    assert vms["listinternallbvmsresponse"]["internalloadbalancervm"][0]["state"] == "Running"


def _snat(env: dict[str, Any], vpc: str) -> str:
    return env["cloud"].api("listPublicIpAddresses", vpcid=env[vpc]["id"],  # type: ignore[no-any-return]
                            issourcenat=True)["publicipaddress"][0]["ipaddress"]


def test_site_to_site_vpn_between_two_vpcs(env: dict[str, Any]) -> None:
    cloud = env["cloud"]
    ping = f"ping -c 1 -W 2 {ip_of(env, 'b1')} >/dev/null && echo PING-OK || echo PING-FAIL"
    assert "PING-FAIL" in on_web1(env, ping)
    gw = {v: cloud.run("createVpnGateway", vpcid=env[v]["id"])["vpngateway"] for v in ("a", "b")}
    policy = {"ipsecpsk": f"psk-{cloud.tag}-secret", "ikepolicy": "aes256-sha256;modp2048",
              "esppolicy": "aes256-sha256", "ikeversion": "ikev2", "dpd": True}
    cgw_for_b = cloud.run("createVpnCustomerGateway", name="to-a", gateway=_snat(env, "a"), cidrlist="10.51.0.0/16",
                          **policy)["vpncustomergateway"]
    cgw_for_a = cloud.run("createVpnCustomerGateway", name="to-b", gateway=_snat(env, "b"), cidrlist="10.52.0.0/16",
                          **policy)["vpncustomergateway"]
    passive = cloud.run("createVpnConnection", s2svpngatewayid=gw["b"]["id"], s2scustomergatewayid=cgw_for_b["id"],
                        passive=True)["vpnconnection"]
    t0 = time.monotonic()
    active = cloud.run("createVpnConnection", s2svpngatewayid=gw["a"]["id"], s2scustomergatewayid=cgw_for_a["id"])
    conn = active["vpnconnection"]

    def connected() -> bool:
        rows = cloud.api("listVpnConnections", vpcid=env["a"]["id"])["vpnconnection"]
        return rows[0]["state"] == "Connected"
    wait_for(connected, 60, "listVpnConnections to say Connected", interval=0.5)
    TIMES["VPN connection -> Connected"] = time.monotonic() - t0
    assert cloud.api("listVpnConnections", vpcid=env["b"]["id"])["vpnconnection"][0]["state"] == "Connected"
    assert wait_for(lambda: "PING-OK" in on_web1(env, ping), 60, "a ping across the tunnel", interval=2)
    cloud.run("deleteVpnConnection", id=conn["id"])
    assert "PING-FAIL" in on_web1(env, ping)
    cloud.run("deleteVpnConnection", id=passive["id"])


def test_remote_access_vpn_user_reaches_a_tier_vm(env: dict[str, Any]) -> None:
    from management.network.testing import RemoteAccessClient

    cloud = env["cloud"]
    snat = cloud.api("listPublicIpAddresses", vpcid=env["a"]["id"], issourcenat=True)["publicipaddress"][0]
    ra = cloud.run("createRemoteAccessVpn", publicipid=snat["id"])["remoteaccessvpn"]
    cloud.run("addVpnUser", username="alice", password="Alice-pass-1")
    client = RemoteAccessClient(f"dcc{cloud.tag}", f"vqc{cloud.tag}", _public_bridge(env), CLIENT,
                                cloud.workdir / "ra-client", Path(f"/run/devcloud/rac{cloud.tag}")).create()
    web1 = ip_of(env, "web1")
    banner = f"busybox nc -w 3 {web1} 22 </dev/null | head -c 20"
    try:
        assert client.connect(snat["ipaddress"], ra["presharedkey"], "alice", "Alice-pass-1", "10.51.0.0/16")
        assert "SSH-" in client.exec("sh", "-c", banner, timeout=15).stdout
        assert not client.connect(snat["ipaddress"], ra["presharedkey"], "alice", "wrong-pass-1", "10.51.0.0/16",
                                  timeout=8)
        cloud.run("removeVpnUser", username="alice")
        assert not client.connect(snat["ipaddress"], ra["presharedkey"], "alice", "Alice-pass-1", "10.51.0.0/16",
                                  timeout=8)
    finally:
        client.destroy()
        cloud.run("deleteRemoteAccessVpn", publicipid=snat["id"])


def _everything_works(env: dict[str, Any]) -> None:
    db1 = ip_of(env, "db1")
    assert on_web1(env, "hostname").strip() == env["vms"]["web1"]["name"]
    assert env["vms"]["db1"]["name"] in on_web1(env, nc(db1, 80))
    assert "SSH-" not in on_web1(env, f"nc -w 3 {db1} 22 </dev/null | head -c 20; echo; echo NC-DONE")
    got = _ilb_answers(env, _ilb(env))
    assert set(got) == {env["vms"][n]["name"] for n in ("db1", "db2")}, got
    # DHCP still answers in the tiers (a fresh lease from the rebuilt dnsmasq)
    out = on_web1(env, "udhcpc -n -q -i eth0 -s /bin/true -t 3 -T 2 2>&1; echo rc=$?")
    assert "rc=0" in out, out


def test_restart_vpc_cleanup_and_server_restart_restore_every_rule(env: dict[str, Any]) -> None:
    cloud = env["cloud"]
    _everything_works(env)
    t0 = time.monotonic()
    cloud.run("restartVPC", id=env["a"]["id"], cleanup=True)
    TIMES["restartVPC cleanup=true"] = time.monotonic() - t0
    _everything_works(env)

    def lose_routers() -> None:  # as after a host reboot: namespaces and daemons are gone
        from management.network.internal_lb import InternalLbProvider
        from management.network.vpc_router import VpcRouterProvider

        state = cloud.served.state_dir / "network"
        for prov in (VpcRouterProvider(state), InternalLbProvider(state)):
            for rid in prov.routers():
                prov.destroy(rid)
                assert not Path(f"/run/netns/dcr-{rid}").exists()

    cloud.restart_server(between=lose_routers)
    routers = cloud.api("listRouters", vpcid=env["a"]["id"])["router"]
    assert [r["state"] for r in routers] == ["Running"]
    _everything_works(env)
    assert re.match(r"^r-\d+-VM$", routers[0]["name"])
