"""Deploy a zone spec through the public API, in the order Marvin's deployDataCenter uses, idempotently:
every object is looked up by name first, so a second run changes nothing and an interrupted run resumes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.client import CloudClient
from appliance.zonespec import CloudSpec, ClusterSpec, PhysicalNetworkSpec, TemplateSpec, ZoneSpec


@dataclass(slots=True)
class DeployReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created)


Notify = Callable[[str], None]


class Deployer:
    def __init__(self, client: CloudClient, notify: Notify | None = None,
                 template_url: Callable[[str], str] | None = None) -> None:
        self.c = client
        self.notify = notify or (lambda _msg: None)
        # Resolves special template URLs (builtin:tiny) to something the server can download.
        self.template_url = template_url or (lambda url: url)
        self.report = DeployReport()

    def _ensure(self, what: str, found: dict[str, Any] | None, create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if found is not None:
            self.report.existing.append(what)
            return found
        self.notify(f"creating {what}")
        obj = create()
        self.report.created.append(what)
        return obj

    @staticmethod
    def _unwrap(obj: dict[str, Any], key: str) -> dict[str, Any]:
        value = obj.get(key, obj)
        return value[0] if isinstance(value, list) else value

    # ---- the whole spec -----------------------------------------------------------------------------------
    def deploy(self, spec: CloudSpec) -> DeployReport:
        self._global_settings(spec.global_settings)
        for zone in spec.zones:
            self._zone(zone)
        for so in spec.service_offerings:
            self._ensure(f"service offering {so.name}",
                         self.c.one("listServiceOfferings", "serviceoffering", name=so.name),
                         lambda so=so: self.c.call("createServiceOffering", name=so.name, displaytext=so.name,  # type: ignore[misc]
                                                   cpunumber=so.cpu, cpuspeed=so.speed, memory=so.memory))
        return self.report

    def _global_settings(self, settings: dict[str, str]) -> None:
        for name, value in settings.items():
            current = self.c.one("listConfigurations", "configuration", name=name)
            if current is not None and str(current.get("value")) == value:
                self.report.existing.append(f"setting {name}")
                continue
            self.c.call("updateConfiguration", name=name, value=value)
            self.report.created.append(f"setting {name}")

    def _zone(self, z: ZoneSpec) -> None:
        zone = self._ensure(f"zone {z.name}", self.c.one("listZones", "zone", name=z.name),
                            lambda: self._unwrap(self.c.call(
                                "createZone", name=z.name, networktype=z.network_type, dns1=z.dns1,
                                internaldns1=z.internal_dns1, guestcidraddress=z.guest_cidr,
                                securitygroupenabled=z.security_groups), "zone"))
        zid = zone["id"]
        for pn in z.physical_networks:
            self._physical_network(zid, pn)
        if z.network_type == "Basic":
            self._basic_guest_network(zid, z)
        pods = []
        for p in z.pods:
            pods.append(self._ensure(f"pod {p.name}", self.c.one("listPods", "pod", zoneid=zid, name=p.name),
                                     lambda p=p: self._unwrap(self.c.call(  # type: ignore[misc]
                                         "createPod", zoneid=zid, name=p.name, gateway=p.gateway,
                                         netmask=p.netmask, startip=p.start, endip=p.end), "pod")))
        existing_ranges = {r.get("startip") for r in self.c.items("listVlanIpRanges", "vlaniprange", zoneid=zid)}
        for r in z.public_ranges:
            if r.start in existing_ranges:
                self.report.existing.append(f"public range {r.start}")
                continue
            self.notify(f"creating public range {r.start}-{r.end}")
            self.c.call("createVlanIpRange", zoneid=zid, vlan=r.vlan, gateway=r.gateway, netmask=r.netmask,
                        startip=r.start, endip=r.end, forvirtualnetwork=True)
            self.report.created.append(f"public range {r.start}")
        for p, pod in zip(z.pods, pods, strict=True):
            for cl in p.clusters:
                self._cluster(zid, pod["id"], cl)
        for ps in z.zone_primary_storage:
            self._ensure(f"primary storage {ps.name}",
                         self.c.one("listStoragePools", "storagepool", zoneid=zid, name=ps.name),
                         lambda ps=ps: self.c.call("createStoragePool", zoneid=zid, name=ps.name, url=ps.url,  # type: ignore[misc]
                                                   scope="zone", hypervisor="KVM",
                                                   tags=",".join(ps.tags) or None))
        for ss in z.secondary_storage:
            self._ensure(f"secondary storage {ss.name}",
                         self.c.one("listImageStores", "imagestore", zoneid=zid, name=ss.name),
                         lambda ss=ss: self.c.call("addImageStore", zoneid=zid, name=ss.name, url=ss.url,  # type: ignore[misc]
                                                   provider=ss.provider))
        if zone.get("allocationstate") != "Enabled":
            self.notify(f"enabling zone {z.name}")
            self.c.call("updateZone", id=zid, allocationstate="Enabled")
            self.report.created.append(f"zone {z.name} enabled")

    def _physical_network(self, zid: str, pn: PhysicalNetworkSpec) -> None:
        net = self._ensure(f"physical network {pn.name}",
                           self.c.one("listPhysicalNetworks", "physicalnetwork", zoneid=zid, name=pn.name),
                           lambda: self._unwrap(self.c.run(
                               "createPhysicalNetwork", zoneid=zid, name=pn.name,
                               isolationmethods=",".join(pn.isolation_methods)), "physicalnetwork"))
        pid = net["id"]
        have = {t.get("traffictype") for t in self.c.items("listTrafficTypes", "traffictype", physicalnetworkid=pid)}
        for tt in pn.traffic_types:
            if tt in have:
                self.report.existing.append(f"traffic type {tt}")
                continue
            self.c.run("addTrafficType", physicalnetworkid=pid, traffictype=tt)
            self.report.created.append(f"traffic type {tt} on {pn.name}")
        providers = {p["name"]: p for p in self.c.items("listNetworkServiceProviders", "networkserviceprovider",
                                                        physicalnetworkid=pid)}
        for name in pn.providers:
            nsp = providers.get(name)
            if nsp is None:
                raise RuntimeError(f"physical network {pn.name} has no provider {name}")
            if nsp.get("state") == "Enabled":
                self.report.existing.append(f"provider {name}")
                continue
            if name == "VirtualRouter":
                for el in self.c.items("listVirtualRouterElements", "virtualrouterelement", nspid=nsp["id"]):
                    if not el.get("enabled"):
                        self.c.run("configureVirtualRouterElement", id=el["id"], enabled=True)
            self.c.run("updateNetworkServiceProvider", id=nsp["id"], state="Enabled")
            self.report.created.append(f"provider {name} enabled")
        if net.get("state") != "Enabled":
            self.c.run("updatePhysicalNetwork", id=pid, state="Enabled", vlan=pn.vlan)
            self.report.created.append(f"physical network {pn.name} enabled")

    def _basic_guest_network(self, zid: str, z: ZoneSpec) -> None:
        name = f"{z.name}-guest"
        if self.c.one("listNetworks", "network", zoneid=zid, name=name) is not None:
            self.report.existing.append(f"network {name}")
            return
        off = self.c.one("listNetworkOfferings", "networkoffering", name="DefaultSharedNetworkOfferingWithSGService")
        if off is None:
            raise RuntimeError("network offering DefaultSharedNetworkOfferingWithSGService is missing")
        r = z.guest_ranges[0] if z.guest_ranges else None
        self.notify(f"creating shared guest network {name}")
        self.c.call("createNetwork", zoneid=zid, name=name, displaytext=name, networkofferingid=off["id"],
                    gateway=r.gateway if r else None, netmask=r.netmask if r else None,
                    startip=r.start if r else None, endip=r.end if r else None, vlan=r.vlan if r else None)
        self.report.created.append(f"network {name}")

    def _cluster(self, zid: str, pod_id: str, cl: ClusterSpec) -> None:
        cluster = self._ensure(f"cluster {cl.name}",
                               self.c.one("listClusters", "cluster", zoneid=zid, name=cl.name),
                               lambda: self._unwrap(self.c.call(
                                   "addCluster", zoneid=zid, podid=pod_id, clustername=cl.name,
                                   hypervisor=cl.hypervisor, clustertype="CloudManaged"), "cluster"))
        cid = cluster["id"]
        hosts = self.c.items("listHosts", "host", clusterid=cid, type="Routing")
        for h in cl.hosts[len(hosts):]:
            self.notify(f"adding host {h.url}")
            self.c.call("addHost", zoneid=zid, podid=pod_id, clusterid=cid, hypervisor=cl.hypervisor, url=h.url,
                        username=h.username, password=h.password or "", hosttags=",".join(h.tags) or None)
            self.report.created.append(f"host {h.url}")
        for ps in cl.primary_storage:
            self._ensure(f"primary storage {ps.name}",
                         self.c.one("listStoragePools", "storagepool", zoneid=zid, name=ps.name),
                         lambda ps=ps: self.c.call("createStoragePool", zoneid=zid, podid=pod_id, clusterid=cid,  # type: ignore[misc]
                                                   name=ps.name, url=ps.url, scope="cluster",
                                                   tags=",".join(ps.tags) or None))


# ---- templates and the first VM (devcloud up) --------------------------------------------------------------
def _wait(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def ensure_templates(c: CloudClient, spec: CloudSpec, resolve_url: Callable[[str], str], notify: Notify,
                     timeout: float = 300.0) -> list[dict[str, Any]]:
    """Registers each spec template once per zone (looked up by name first) and waits until it is ready."""
    out = []
    for zone in spec.zones:
        zid = c.one("listZones", "zone", name=zone.name)["id"]  # type: ignore[index]
        for t in spec.templates:
            def find(t: TemplateSpec = t, zid: str = zid) -> dict[str, Any] | None:
                found = [x for x in c.items("listTemplates", "template", templatefilter="all", zoneid=zid,
                                            name=t.name) if x.get("name") == t.name]
                return found[0] if found else None

            tpl = find()
            if tpl is None:
                url = resolve_url(t.url or "")
                notify(f"registering template {t.name} from {url}")
                c.call("registerTemplate", name=t.name, displaytext=t.name, format=t.format,
                       hypervisor=t.hypervisor, url=url, zoneid=zid, ispublic=True, isfeatured=True,
                       sshkeyenabled=True, passwordenabled=False)
            if not (tpl or {}).get("isready"):
                notify(f"waiting for template {t.name} to be ready")

                def ready(find: Callable[[], dict[str, Any] | None] = find) -> dict[str, Any] | None:
                    x = find()
                    if x and x.get("status", "").lower().startswith(("error", "failed")):
                        raise RuntimeError(f"template {x.get('name')}: {x.get('status')}")
                    return x if x and x.get("isready") else None

                tpl = _wait(ready, timeout, f"template {t.name}")
            assert tpl is not None
            out.append(tpl)
    return out


def ssh_command(key: Path | str, ip: str, port: int, user: str = "root", command: str = "hostname",
                timeout: int = 5) -> list[str]:
    return ["ssh", "-i", str(key), "-p", str(port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", f"ConnectTimeout={timeout}", "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR", f"{user}@{ip}", command]


def ssh_answers(key: Path | str, ip: str, port: int, user: str = "root", timeout: int = 5) -> str | None:
    try:
        r = subprocess.run(ssh_command(key, ip, port, user, timeout=timeout), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_first_vm(c: CloudClient, spec: CloudSpec, key_dir: Path, notify: Notify) -> dict[str, Any]:
    """The first VM of the spec, converged: isolated network, key pair (private key saved 0600), VM Running,
    firewall rule + port forwarding ssh_public_port -> 22 on the network's source-NAT IP. Returns facts."""
    fv = spec.first_vm
    assert fv is not None
    zone = c.one("listZones", "zone", name=fv.zone)
    if zone is None:
        raise RuntimeError(f"zone {fv.zone} does not exist (deploy step)")
    zid = zone["id"]
    net = c.one("listNetworks", "network", zoneid=zid, name=fv.network)
    if net is None:
        off = c.one("listNetworkOfferings", "networkoffering", name=fv.network_offering)
        if off is None:
            raise RuntimeError(f"network offering {fv.network_offering} does not exist")
        notify(f"creating network {fv.network}")
        net = Deployer._unwrap(c.call("createNetwork", zoneid=zid, name=fv.network, displaytext=fv.network,
                                      networkofferingid=off["id"]), "network")
    key_dir.mkdir(parents=True, exist_ok=True)
    key_path = key_dir / f"{fv.keypair}.pem"
    kp = c.one("listSSHKeyPairs", "sshkeypair", name=fv.keypair)
    if kp is not None and not key_path.is_file():
        # The private key is gone (it is never stored by the server): make a new pair.
        c.call("deleteSSHKeyPair", name=fv.keypair)
        kp = None
    if kp is None:
        notify(f"creating key pair {fv.keypair}")
        created = Deployer._unwrap(c.call("createSSHKeyPair", name=fv.keypair), "keypair")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(created["privatekey"])
    os.chmod(key_path, 0o600)
    vms = [v for v in c.items("listVirtualMachines", "virtualmachine", zoneid=zid, name=fv.name)
           if v.get("name") == fv.name and v.get("state") not in ("Destroyed", "Expunging", "Error")]
    if not vms:
        tpl = c.one("listTemplates", "template", templatefilter="all", zoneid=zid, name=fv.template)
        so = c.one("listServiceOfferings", "serviceoffering", name=fv.offering)
        if tpl is None or so is None:
            raise RuntimeError(f"template {fv.template} or offering {fv.offering} is missing")
        notify(f"deploying VM {fv.name}")
        vm = Deployer._unwrap(c.run("deployVirtualMachine", zoneid=zid, templateid=tpl["id"],
                                    serviceofferingid=so["id"], networkids=net["id"], keypair=fv.keypair,
                                    name=fv.name, displayname=fv.name), "virtualmachine")
    else:
        vm = vms[0]
        if vm.get("state") == "Stopped":
            notify(f"starting VM {fv.name}")
            vm = Deployer._unwrap(c.run("startVirtualMachine", id=vm["id"]), "virtualmachine")
    # `down --all` stops the router too; starting the VM does not start it here (CloudStack would): do it.
    for r in c.items("listRouters", "router", networkid=net["id"]):
        if r.get("state") == "Stopped":
            notify(f"starting router {r.get('name')}")
            c.run("startRouter", id=r["id"])
    ips = [i for i in c.items("listPublicIpAddresses", "publicipaddress", associatednetworkid=net["id"])
           if i.get("issourcenat")]
    if not ips:
        raise RuntimeError(f"network {fv.network} has no source-NAT public IP")
    ip = ips[0]
    port = fv.ssh_public_port
    rules = c.items("listFirewallRules", "firewallrule", ipaddressid=ip["id"])
    if not any(str(r.get("startport")) == str(port) and r.get("protocol") == "tcp" for r in rules):
        notify(f"opening firewall tcp/{port} on {ip['ipaddress']}")
        c.run("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=port, endport=port,
              cidrlist="0.0.0.0/0")
    pfs = c.items("listPortForwardingRules", "portforwardingrule", ipaddressid=ip["id"])
    if not any(str(r.get("publicport")) == str(port) for r in pfs):
        notify(f"forwarding {ip['ipaddress']}:{port} -> {fv.name}:22")
        c.run("createPortForwardingRule", ipaddressid=ip["id"], protocol="tcp", publicport=port, privateport=22,
              virtualmachineid=vm["id"], openfirewall=False)
    return {"vm_id": vm["id"], "vm_name": fv.name, "instancename": vm.get("instancename"),
            "network_id": net["id"], "zone_id": zid, "ip": ip["ipaddress"], "ip_id": ip["id"], "port": port,
            "key": str(key_path), "user": fv.ssh_user, "keypair": fv.keypair}


def wait_ssh(facts: dict[str, Any], timeout: float, converge: Callable[[], None] | None = None) -> str:
    """Waits for the first VM's SSH. `converge` (every 10 s) brings the VM back to Running when the server has
    meanwhile found it stopped: right after the server starts on a rebooted machine the database still says
    Running until the first power sync sees the domain shut off."""
    last = [time.monotonic()]

    def answers() -> str | None:
        if converge is not None and time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            converge()
        return ssh_answers(facts["key"], facts["ip"], facts["port"], facts["user"])

    return str(_wait(answers, timeout, f"SSH on {facts['ip']}:{facts['port']}", interval=1.0))
