"""VPC on this machine as a KVM host (libvirt qemu:///system, TCG guests) through the CloudStack API of a served
devcloud:

  createVPC          API call -> job done (the VPC router's namespace is up with the source-NAT IP)
  tiers implemented  three createNetwork calls and a deployVirtualMachine per tier (one after the other: the
                     libvirt pool refuses concurrent uploads) -> every tier Implemented (its leg on the router:
                     bridge, veth, gateway address, DHCP)
  first SSH per tier tiers created -> that tier's guest answers SSH (from the router's namespace)
  ACL change         replaceNetworkACLList -> job done (the new nftables ruleset loaded), and the data path alone:
                     the router provider re-applying the spec with the other list (nft -f of the whole table)
  VPN connected      createVpnConnection between two VPCs -> listVpnConnections says Connected

Anchor: CloudStack's VPC virtual router is a system VM that boots (minutes) before the first tier is usable.

Usage: .venv/bin/python bench/vpc_bench.py [--out bench/results/vpc.json]   (root, libvirtd up, strongSwan)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "loadavg_start": list(os.getloadavg())}


def wait(pred: Any, timeout: float, interval: float = 0.05) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic()
        time.sleep(interval)
    raise TimeoutError(f"not done after {timeout:.0f}s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "vpc.json"))
    args = ap.parse_args()
    from appliance.image import build_tiny_image
    from tests.integration.test_network_guests import SSH_OPTS, served_cloud
    from tests.integration.test_vpc_guests import _cleanup

    results: dict[str, Any] = {"machine": machine()}
    with served_cloud(build_tiny_image(), basic=False) as cloud:
        try:
            api, zone = cloud.api, cloud.zone

            def job(command: str, **kw: Any) -> tuple[dict[str, Any], float]:
                t0 = time.monotonic()
                done = api.wait(api(command, **kw)["jobid"], timeout=300)
                assert done["jobstatus"] == 1, done
                return done["jobresult"], time.monotonic() - t0

            vo = api("listVPCOfferings", name="Default VPC offering")["vpcoffering"][0]
            lists = {x["name"]: x["id"] for x in api("listNetworkACLLists")["networkacllist"]}
            off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingForVpcNetworks")[
                "networkoffering"][0]["id"]
            # warm-up, not timed: VPC B (the VPN peer later) with one guest, so the template is on the primary
            # pool before the timed deploys (concurrent first deploys of a template race for its copy)
            other = job("createVPC", name="bench-b", cidr="10.72.0.0/16", vpcofferingid=vo["id"],
                        zoneid=zone["id"])[0]["vpc"]
            warm = api("createNetwork", name="warm", displaytext="warm", zoneid=zone["id"], vpcid=other["id"],
                       networkofferingid=off, gateway="10.72.1.1", netmask="255.255.255.0")["network"]
            vm = job("deployVirtualMachine", zoneid=zone["id"], templateid=cloud.template["id"],
                     serviceofferingid=cloud.offering["id"], networkids=warm["id"], name="bench-warm")[0]
            job("destroyVirtualMachine", id=vm["virtualmachine"]["id"], expunge=True)  # the tier stays: IPsec
            # needs an address of the VPC on the router to accept the VPC's CIDR as its traffic selector

            res, results["createVPC_s"] = job("createVPC", name="bench-a", cidr="10.71.0.0/16",
                                              vpcofferingid=vo["id"], zoneid=zone["id"])
            vpc = res["vpc"]
            t0 = time.monotonic()
            tiers = [api("createNetwork", name=f"t{i}", displaytext=f"t{i}", zoneid=zone["id"], vpcid=vpc["id"],
                         networkofferingid=off, gateway=f"10.71.{i}.1", netmask="255.255.255.0",
                         aclid=lists["default_allow"])["network"] for i in (1, 2, 3)]
            # one deploy at a time: the libvirt pool refuses concurrent uploads ("has asynchronous jobs running")
            vms = []
            for i, t in enumerate(tiers, start=1):
                started = api("deployVirtualMachine", zoneid=zone["id"], templateid=cloud.template["id"],
                              serviceofferingid=cloud.offering["id"], keypair=cloud.keypair, networkids=t["id"],
                              name=f"bench-t{i}")
                cloud.vms.append(started["id"])
                done = api.wait(started["jobid"], timeout=300)
                assert done["jobstatus"] == 1, f"deploy failed: {done}\n{cloud.served.log()}"
                vms.append(done["jobresult"]["virtualmachine"])
            t_impl = wait(lambda: all(api("listNetworks", id=t["id"])["network"][0]["state"] == "Implemented"
                                      for t in tiers), 300, interval=0.1)
            results["tiers_implemented_s"] = round(t_impl - t0, 2)
            specs = [json.loads(f.read_text()) for f in
                     (cloud.served.state_dir / "network" / "vpcrouters").glob("*/spec.json")]
            ns = "dcr-" + next(x["router_id"] for x in specs if x["cidr"] == "10.71.0.0/16")
            firsts = []
            for vm in vms:
                ip = vm["nic"][0]["ipaddress"]
                cmd = ["ip", "netns", "exec", ns, "ssh", "-i", str(cloud.key), *SSH_OPTS, f"root@{ip}", "true"]
                firsts.append(round(wait(lambda cmd=cmd: subprocess.run(cmd, capture_output=True,
                                                                        stdin=subprocess.DEVNULL,
                                                                        timeout=30).returncode == 0,
                                         300, interval=0.5) - t0, 2))
            results["first_ssh_per_tier_s"] = firsts

            _, results["replaceNetworkACLList_job_ms"] = job("replaceNetworkACLList", aclid=lists["default_deny"],
                                                              networkid=tiers[1]["id"])
            results["replaceNetworkACLList_job_ms"] = round(results["replaceNetworkACLList_job_ms"] * 1000)
            import dataclasses

            from management.network.vpc_router import VpcRouterProvider
            from management.network.vpc_spec import AclEntry

            prov = VpcRouterProvider(cloud.served.state_dir / "network")
            spec = prov.last_spec(ns[4:])
            assert spec is not None
            opened = dataclasses.replace(spec, tiers=tuple(dataclasses.replace(t, ingress=(AclEntry(True),))
                                                           for t in spec.tiers))
            t1 = time.monotonic()
            prov.apply_rules(opened)
            results["acl_data_path_apply_ms"] = round((time.monotonic() - t1) * 1000)
            prov.apply_rules(spec)

            snat = {v["id"]: api("listPublicIpAddresses", vpcid=v["id"], issourcenat=True)["publicipaddress"][0][
                "ipaddress"] for v in (vpc, other)}
            gw = {v["id"]: job("createVpnGateway", vpcid=v["id"])[0]["vpngateway"] for v in (vpc, other)}
            policy = {"ipsecpsk": "bench-psk-secret", "ikepolicy": "aes128-sha256;modp2048",
                      "esppolicy": "aes128-sha256"}
            to_a = job("createVpnCustomerGateway", name="to-a", gateway=snat[vpc["id"]], cidrlist="10.71.0.0/16",
                       **policy)[0]["vpncustomergateway"]
            to_b = job("createVpnCustomerGateway", name="to-b", gateway=snat[other["id"]], cidrlist="10.72.0.0/16",
                       **policy)[0]["vpncustomergateway"]
            job("createVpnConnection", s2svpngatewayid=gw[other["id"]]["id"], s2scustomergatewayid=to_a["id"],
                passive=True)
            t2 = time.monotonic()
            api("createVpnConnection", s2svpngatewayid=gw[vpc["id"]]["id"], s2scustomergatewayid=to_b["id"])
            t3 = wait(lambda: (api("listVpnConnections", vpcid=vpc["id"]).get("vpnconnection") or [{}])[0].get(
                "state") == "Connected", 120, interval=0.05)
            results["vpn_connected_s"] = round(t3 - t2, 2)
        finally:
            _cleanup(cloud)
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["createVPC_s"] = round(results["createVPC_s"], 2)
    rows = [("createVPC -> router up", f"{results['createVPC_s']} s"),
            ("3 tiers -> all implemented", f"{results['tiers_implemented_s']} s"),
            ("first guest per tier answering SSH", ", ".join(f"{x} s" for x in results["first_ssh_per_tier_s"])),
            ("replaceNetworkACLList job", f"{results['replaceNetworkACLList_job_ms']} ms"),
            ("ACL change, data path only", f"{results['acl_data_path_apply_ms']} ms"),
            ("VPN connection -> Connected", f"{results['vpn_connected_s']} s")]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
