"""The Ansible inventory of a farm, generated from its zone spec (one source: the machines a spec names are the
machines the playbooks provision). Groups are the playbooks' own: management, management_lb, database, nfs,
kvm_hosts, xen_hosts.

    python -m appliance.inventory farm-rehearsal > hosts.yml
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from appliance import zonespec

GROUPS = ("management", "management_lb", "database", "nfs", "kvm_hosts", "xen_hosts")
ROLE_GROUPS = {"kvm": "kvm_hosts", "xen": "xen_hosts"}


def hypervisor_hosts(spec: zonespec.CloudSpec) -> list[tuple[str, str, str]]:
    """(inventory name, address, group) of every host the spec gives a role and an address or a remote URL."""
    out = []
    for zone in spec.zones:
        for pod in zone.pods:
            for cluster in pod.clusters:
                for h in cluster.hosts:
                    remote = urlsplit(h.url).hostname
                    if h.role not in ROLE_GROUPS or not (h.address or remote):
                        continue  # the management machine itself (qemu:///system) or a simulator
                    out.append((h.name or remote or "", h.address or remote or "", ROLE_GROUPS[h.role]))
    return out


def farm_inventory(spec: zonespec.CloudSpec, scenario: str | Path | None = None) -> dict:
    """The inventory as the YAML document Ansible reads. `scenario` (a name or path) becomes the management
    servers' `devcloud_scenario`, the spec the datacenter role deploys (from the first server)."""
    if spec.management is None:
        raise zonespec.SpecError(spec.name, ["management: a farm inventory needs the management servers"])
    groups: dict[str, dict[str, dict]] = {g: {} for g in GROUPS}
    mgmt = spec.management
    for i, m in enumerate(mgmt.servers):
        # host variables, so they win over playbooks/group_vars/all (group variables of an inventory file do not)
        groups["management"][m.name] = {"ansible_host": m.address, "devcloud_scenario": str(scenario or spec.name)}
        if i == 0:  # one server deploys the zone spec through the API
            groups["management"][m.name]["devcloud_deploy_datacenter"] = True
    groups["database"][mgmt.database] = {}
    if mgmt.load_balancer:
        groups["management_lb"][mgmt.load_balancer.name] = {"ansible_host": mgmt.load_balancer.address}
    for n in spec.storage_nodes:
        groups["nfs"][n.name] = {"ansible_host": n.address}
    for name, address, group in hypervisor_hosts(spec):
        groups[group][name] = {"ansible_host": address}
    seen: dict[str, str] = {}
    for group in GROUPS:
        for name, hv in groups[group].items():
            addr = hv.get("ansible_host")
            if addr and seen.setdefault(name, addr) != addr:
                raise zonespec.SpecError(spec.name, [f"{name}: two addresses ({seen[name]}, {addr})"])
    return {"all": {
        "children": {g: {"hosts": {n: (v or None) for n, v in hosts.items()}} for g, hosts in groups.items()},
        "vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3"},
    }}


def render(spec: zonespec.CloudSpec, scenario: str | Path | None = None) -> str:
    name = str(scenario or spec.name)
    return (f"# Generated from the zone spec {name} by `python -m appliance.inventory {name}`:\n"
            "# edit the spec, not this file. The groups are the playbooks' own (the sandbox inventory has the same).\n"
            + "---\n" + yaml.safe_dump(farm_inventory(spec, scenario), sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m appliance.inventory <scenario name or path>", file=sys.stderr)
        return 2
    try:
        spec = zonespec.load(args[0])
        sys.stdout.write(render(spec, args[0]))
    except zonespec.SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
