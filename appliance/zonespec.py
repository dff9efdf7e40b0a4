"""The zone spec: one typed, validated description of a cloud (zones → pods → clusters → hosts, storage,
physical networks, offerings, templates, the first VM). The same file format describes a laptop sandbox and a
farm; it drives the API deployment here and the Ansible inventory groups and Vagrant machines elsewhere.

Validation happens before anything is changed, and every error names the field it is about
(`zones[0].pods[0].clusters[0].hypervisor: ...`).
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
# "Xen": a libvirt (libxl) Xen host with PV guests; CloudStack has no such type ("XenServer" = XAPI pools)
HYPERVISORS = ("Simulator", "KVM", "XenServer", "LXC", "Xen")


class SpecError(ValueError):
    """A zone spec that does not validate; `errors` holds one "path: message" line per problem."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: invalid zone spec\n" + "\n".join(f"  {e}" for e in errors))


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _ip(value: str) -> str:
    ipaddress.ip_address(value)
    return value


class IpRange(_Spec):
    gateway: str
    netmask: str
    start: str
    end: str
    vlan: str = "untagged"

    @field_validator("gateway", "netmask", "start", "end")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        return _ip(v)

    @model_validator(mode="after")
    def _ordered(self) -> IpRange:
        if int(ipaddress.ip_address(self.start)) > int(ipaddress.ip_address(self.end)):
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class HostSpec(_Spec):
    url: str = Field(description="http://sim/... for the simulator, qemu:///system or qemu+ssh://root@host/system")
    username: str = "root"
    password: str | None = None
    tags: list[str] = Field(default_factory=list)
    # Inventory facts for the playbooks and Vagrant (ignored by the API deployment).
    address: str | None = None
    role: Literal["kvm", "xen", "simulator"] | None = None
    name: str | None = Field(None, description="inventory name (default: the URL's host name)")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError(f"host URL {v!r} needs a scheme: http://sim/..., qemu:///system, qemu+ssh://root@host/system")
        return v


def _storage_url(v: str) -> str:
    if not v.startswith(("nfs://", "file:///")):
        raise ValueError(f"storage URL {v!r} must be nfs://server/export or file:///absolute/path")
    return v


class PrimaryStorageSpec(_Spec):
    name: str
    url: str = Field(description="nfs://server/export, or file:///path for a directory pool")
    scope: Literal["cluster", "zone"] = "cluster"
    tags: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _url_ok(cls, v: str) -> str:
        return _storage_url(v)


class ClusterSpec(_Spec):
    name: str
    hypervisor: str
    hosts: list[HostSpec] = Field(default_factory=list)
    primary_storage: list[PrimaryStorageSpec] = Field(default_factory=list)

    @field_validator("hypervisor")
    @classmethod
    def _known(cls, v: str) -> str:
        for h in HYPERVISORS:
            if v.lower() == h.lower():
                return h
        raise ValueError(f"unknown hypervisor {v!r}; one of {', '.join(HYPERVISORS)}")

    @model_validator(mode="after")
    def _host_urls(self) -> ClusterSpec:
        want = {"KVM": ("qemu",), "Xen": ("xen",), "Simulator": ("http", "https")}.get(self.hypervisor)
        for i, h in enumerate(self.hosts):
            scheme = h.url.split("://", 1)[0].split("+", 1)[0]
            if want and scheme not in want:
                raise ValueError(f"hosts[{i}].url {h.url!r} is not a {self.hypervisor} host URL "
                                 f"(expected {' or '.join(s + '://' for s in want)}...)")
        return self


class PodSpec(_Spec):
    name: str
    gateway: str
    netmask: str
    start: str
    end: str
    clusters: list[ClusterSpec] = Field(default_factory=list)


class PhysicalNetworkSpec(_Spec):
    name: str
    isolation_methods: list[str] = Field(default_factory=lambda: ["VLAN"])
    vlan: str | None = Field(None, description="guest VLAN range, e.g. 100-200")
    traffic_types: list[Literal["Guest", "Management", "Public", "Storage"]] = Field(
        default_factory=lambda: ["Guest", "Management", "Public"])  # type: ignore[arg-type]
    providers: list[str] = Field(default_factory=lambda: ["VirtualRouter"])

    @field_validator("vlan")
    @classmethod
    def _range(cls, v: str | None) -> str | None:
        if v is None:
            return v
        for part in v.split(","):
            lo, _, hi = part.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()) or (hi and int(hi) < int(lo)):
                raise ValueError(f"VLAN range {v!r} must look like 100-200[,300-310]")
        return v


class SecondaryStorageSpec(_Spec):
    name: str
    url: str
    provider: str = "NFS"

    @field_validator("url")
    @classmethod
    def _url_ok(cls, v: str) -> str:
        return _storage_url(v)


class ZoneSpec(_Spec):
    name: str
    network_type: Literal["Advanced", "Basic"] = "Advanced"
    dns1: str = "10.147.28.6"
    internal_dns1: str = "10.147.28.6"
    guest_cidr: str | None = "10.1.1.0/24"
    security_groups: bool = False
    physical_networks: list[PhysicalNetworkSpec] = Field(min_length=1)
    public_ranges: list[IpRange] = Field(default_factory=list)
    guest_ranges: list[IpRange] = Field(default_factory=list, description="Basic zones: the shared network range")
    pods: list[PodSpec] = Field(min_length=1)
    zone_primary_storage: list[PrimaryStorageSpec] = Field(default_factory=list)
    secondary_storage: list[SecondaryStorageSpec] = Field(min_length=1)

    @field_validator("guest_cidr")
    @classmethod
    def _cidr(cls, v: str | None) -> str | None:
        if v is not None:
            ipaddress.ip_network(v, strict=False)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ZoneSpec:
        if self.network_type == "Basic" and not self.security_groups:
            raise ValueError("a Basic zone needs security_groups: true (CloudStack's Basic zones use them)")
        if self.network_type == "Advanced" and not self.public_ranges:
            raise ValueError("an Advanced zone needs at least one public range (public_ranges)")
        return self


class ServiceOfferingSpec(_Spec):
    name: str
    cpu: int = Field(1, ge=1)
    speed: int = Field(500, ge=1, description="MHz")
    memory: int = Field(512, ge=32, description="MiB")


class TemplateSpec(_Spec):
    name: str
    url: str | None = Field(None, description="http(s) or file URL; `builtin:tiny` for the tiny guest image")
    format: Literal["QCOW2", "RAW", "VHD", "ISO"] = "QCOW2"
    hypervisor: str = "KVM"
    ostype: str = "Other Linux (64-bit)"


class FirstVmSpec(_Spec):
    zone: str
    template: str
    offering: str = "Small Instance"
    network: str = "sandbox-net"
    network_offering: str = "DefaultIsolatedNetworkOfferingWithSourceNatService"
    ssh_public_port: int = Field(2222, ge=1, le=65535)
    name: str = "first-vm"
    keypair: str = Field("devcloud-sandbox", description="key pair; its private key is saved in the state dir")
    ssh_user: str = "root"
    boot_timeout: float = Field(180.0, gt=0, description="seconds until the guest must answer SSH")


class NodeSpec(_Spec):
    """A machine of the farm by its inventory name and address."""

    name: str = Field(description="inventory name (a host of the playbooks' group)")
    address: str

    @field_validator("address")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        return _ip(v)


class ManagementSpec(_Spec):
    """Inventory facts for the playbooks (ignored by the API deployment): the management servers, sharing one
    database, and the haproxy in front of them."""

    servers: list[NodeSpec] = Field(min_length=1)
    database: str = Field(description="the server that runs MariaDB for all of them")
    load_balancer: NodeSpec | None = Field(
        None, description="haproxy (the management_lb group); needed with more than one server")

    @model_validator(mode="after")
    def _consistent(self) -> ManagementSpec:
        names = [m.name for m in self.servers]
        if len(set(names)) != len(names):
            raise ValueError(f"management server names must be unique: {names}")
        if self.database not in names:
            raise ValueError(f"database {self.database!r} is not one of the management servers {names}")
        if len(self.servers) > 1 and self.load_balancer is None:
            raise ValueError("several management servers need a load_balancer in front of them")
        return self


class CloudSpec(_Spec):
    name: str
    description: str = ""
    global_settings: dict[str, str] = Field(default_factory=dict)
    zones: list[ZoneSpec] = Field(min_length=1)
    service_offerings: list[ServiceOfferingSpec] = Field(default_factory=list)
    templates: list[TemplateSpec] = Field(default_factory=list)
    first_vm: FirstVmSpec | None = None
    management: ManagementSpec | None = None
    # Inventory facts: the machines that serve NFS (the playbooks' nfs group).
    storage_nodes: list[NodeSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> CloudSpec:
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError(f"zone names must be unique: {names}")
        if self.first_vm:
            if self.first_vm.zone not in names:
                raise ValueError(f"first_vm.zone {self.first_vm.zone!r} is not one of the zones {names}")
            if self.first_vm.template not in {t.name for t in self.templates}:
                raise ValueError(f"first_vm.template {self.first_vm.template!r} is not one of the templates")
            zone = next(z for z in self.zones if z.name == self.first_vm.zone)
            if zone.network_type != "Advanced":
                raise ValueError(f"first_vm.zone {zone.name!r} must be an Advanced zone (port forwarding)")
        return self


def _path(loc: tuple[object, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse(data: object, source: str = "<spec>") -> CloudSpec:
    try:
        return CloudSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, [f"{_path(e['loc'])}: {e['msg']}" for e in exc.errors()]) from None


DEFAULT_STATE_DIR = "/var/lib/devcloud"


def resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    return path


def public_net(state_dir: str | Path) -> int:
    """The third octet of a sandbox's public /24 in 198.19.0.0/16: 20 for the default state directory, else one of
    30..249 chosen by the directory's path (the public-range guard refuses a range another cloud already routes)."""
    path = str(state_dir).rstrip("/")
    if path == str(DEFAULT_STATE_DIR).rstrip("/"):
        return 20
    return 30 + int(hashlib.sha1(path.encode()).hexdigest(), 16) % 220


def load(name_or_path: str | Path, state_dir: str | Path | None = None) -> CloudSpec:
    """Loads `scenarios/<name>.yaml` (or a path) and validates it; SpecError names every bad field.

    `{state_dir}` in the file is replaced by the sandbox's state directory (default /var/lib/devcloud), so one spec
    serves the default sandbox and the throw-away ones tests make; `{public_net}` by a number in 20..249 that
    depends on it (20 for the default), so two sandboxes on one machine get different public /24s."""
    path = resolve(name_or_path)
    if not path.is_file():
        known = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml") if not p.stem.startswith(("smoke", "e2e")))
        raise SpecError(str(path), [f"no such zone spec; known: {', '.join(known)}"])
    try:
        state = str(state_dir or DEFAULT_STATE_DIR).rstrip("/")
        text = path.read_text().replace("{state_dir}", state).replace("{public_net}", str(public_net(state)))
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse(data, str(path))
