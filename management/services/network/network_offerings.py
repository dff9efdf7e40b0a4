"""Network offerings: CloudStack's default offerings (exact names and service maps) and their lifecycle."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.network import Network
from management.models.offerings import NetworkOffering

VR, VPCVR = "VirtualRouter", "VpcVirtualRouter"

SERVICES = ("Vpn", "Dhcp", "Dns", "SourceNat", "PortForwarding", "Lb", "UserData", "StaticNat", "NetworkACL",
            "Firewall", "Gateway", "SecurityGroup", "Connectivity", "BaremetalPxeService")
PROVIDERS = ("VirtualRouter", "VpcVirtualRouter", "InternalLbVm", "SecurityGroupProvider", "ConfigDrive",
             "Netscaler", "F5BigIp", "JuniperSRX", "Ovs", "NiciraNvp", "BaremetalDhcpProvider",
             "BaremetalPxeProvider", "None")


def _svc(names: str, provider: str) -> dict[str, list[str]]:
    return {n: [provider] for n in names.split()}


_ISO_SNAT = _svc("Dhcp Dns UserData Firewall Gateway Lb SourceNat StaticNat PortForwarding Vpn", VR)
_VPC = _svc("Dhcp Dns UserData SourceNat StaticNat PortForwarding Lb NetworkACL Vpn Gateway", VPCVR)
_VPC_NOLB = _svc("Dhcp Dns UserData SourceNat StaticNat PortForwarding NetworkACL Vpn Gateway", VPCVR)
_VPC_ILB = {**_svc("Dhcp Dns UserData SourceNat StaticNat PortForwarding NetworkACL Vpn Gateway", VPCVR),
            "Lb": ["InternalLbVm"]}

# (name, display text, guest type, availability, specifyvlan, specifyipranges, for vpc, services, egress default)
DEFAULTS: list[tuple[str, str, str, str, bool, bool, bool, dict[str, list[str]], bool]] = [
    ("DefaultSharedNetworkOfferingWithSGService", "Offering for Shared Security group enabled networks", "Shared",
     "Optional", True, True, False, {**_svc("Dhcp Dns UserData", VR), "SecurityGroup": ["SecurityGroupProvider"]},
     False),
    ("DefaultSharedNetworkOffering", "Offering for Shared networks", "Shared", "Optional", True, True, False,
     _svc("Dhcp Dns UserData", VR), False),
    ("DefaultIsolatedNetworkOfferingWithSourceNatService",
     "Offering for Isolated networks with Source Nat service enabled", "Isolated", "Required", False, False, False,
     _ISO_SNAT, False),
    ("DefaultIsolatedNetworkOffering", "Offering for Isolated networks with no Source Nat service", "Isolated",
     "Optional", True, True, False, _svc("Dhcp Dns UserData", VR), False),
    ("DefaultIsolatedNetworkOfferingForVpcNetworks",
     "Offering for Isolated VPC networks with Source Nat service enabled", "Isolated", "Optional", False, False,
     True, _VPC, False),
    ("DefaultIsolatedNetworkOfferingForVpcNetworksNoLB",
     "Offering for Isolated VPC networks with Source Nat service enabled and LB service disabled", "Isolated",
     "Optional", False, False, True, _VPC_NOLB, False),
    ("DefaultIsolatedNetworkOfferingForVpcNetworksWithInternalLB",
     "Offering for Isolated VPC networks with Internal Lb support", "Isolated", "Optional", False, False, True,
     _VPC_ILB, False),
    ("DefaultL2NetworkOffering", "Offering for L2 networks", "L2", "Optional", False, False, False, {}, False),
    ("DefaultL2NetworkOfferingVlan", "Offering for L2 networks VLAN", "L2", "Optional", True, False, False, {},
     False),
    ("DefaultL2NetworkOfferingConfigDrive", "Offering for L2 networks with config drive user data", "L2",
     "Optional", False, False, False, {"UserData": ["ConfigDrive"]}, False),
    ("DefaultL2NetworkOfferingConfigDriveVlan", "Offering for L2 networks with config drive user data VLAN", "L2",
     "Optional", True, False, False, {"UserData": ["ConfigDrive"]}, False),
]

# System networks' offerings (issystem=true): what CloudStack seeds for its own traffic types.
SYSTEM = [("System-Public-Network", "Public"), ("System-Management-Network", "Management"),
          ("System-Control-Network", "Control"), ("System-Storage-Network", "Storage"),
          ("System-Guest-Network", "Guest")]

DEFAULT_ISOLATED = "DefaultIsolatedNetworkOfferingWithSourceNatService"


def services_of(off: NetworkOffering) -> dict[str, list[str]]:
    try:
        data = json.loads(off.services_json or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def has_service(off: NetworkOffering, service: str) -> bool:
    return service in services_of(off)


def seed(session: Session) -> None:
    """Idempotent: adds CloudStack's default network offerings that are missing (matched by unique name)."""
    have = set(session.scalars(select(NetworkOffering.unique_name).where(NetworkOffering.unique_name.is_not(None))))
    for i, (name, text, gtype, avail, svlan, sips, vpc, services, egress) in enumerate(DEFAULTS):
        if name in have:
            continue
        session.add(NetworkOffering(
            name=name, unique_name=name, display_text=text, traffic_type="Guest", guest_type=gtype,
            state="Enabled", is_default=True, is_system=False, specify_vlan=svlan, specify_ip_ranges=sips,
            conserve_mode=True, egress_default_policy=egress, for_vpc=vpc, availability=avail,
            services_json=json.dumps(services), sort_key=i))
    for name, traffic in SYSTEM:
        if name in have:
            continue
        session.add(NetworkOffering(name=name, unique_name=name, display_text=name, traffic_type=traffic,
                                    guest_type=None, state="Enabled", is_default=True, is_system=True,
                                    specify_vlan=traffic == "Public", services_json="{}", sort_key=100))
    session.flush()


def ensure_seeded(session: Session) -> None:
    """Seeds lazily when nothing seeded them at bootstrap (cheap: one indexed count)."""
    n = session.scalar(select(func.count()).select_from(NetworkOffering)
                       .where(NetworkOffering.unique_name == DEFAULT_ISOLATED))
    if not n:
        try:
            with session.begin_nested():
                seed(session)
        except OperationalError as exc:  # a read-only request lost SQLite's write lock race; bootstrap seeds anyway
            import logging

            logging.getLogger(__name__).info("network offerings not seeded yet: %s", exc.orig)


def by_name(session: Session, name: str) -> NetworkOffering | None:
    ensure_seeded(session)
    return session.scalar(select(NetworkOffering).where(NetworkOffering.name == name,
                                                        NetworkOffering.removed.is_(None))
                          .order_by(NetworkOffering.id).limit(1))


def parse_service_map(supported: list[str] | None, provider_map: list[dict[str, str]] | None,
                      guest_type: str) -> dict[str, list[str]]:
    """supportedservices + serviceproviderlist[N].service/.provider -> {service: [providers]}."""
    canon = {s.lower(): s for s in SERVICES}
    pcanon = {p.lower(): p for p in PROVIDERS}
    out: dict[str, list[str]] = {}
    for raw in supported or []:
        name = canon.get(raw.strip().lower())
        if name is None:
            raise ParamError(f"Invalid service {raw}; supported services: {', '.join(SERVICES)}")
        out.setdefault(name, [])
    for item in provider_map or []:
        svc, prov = item.get("service"), item.get("provider")
        if not svc or not prov:
            raise ParamError("serviceproviderlist entries need a service and a provider")
        name = canon.get(svc.lower())
        pname = pcanon.get(prov.lower())
        if name is None:
            raise ParamError(f"Invalid service {svc}")
        if pname is None:
            raise ParamError(f"Invalid service provider {prov}")
        if name not in out:
            raise ParamError(f"Service {name} is not in supportedservices")
        if pname not in out[name]:
            out[name].append(pname)
    for name, provs in out.items():
        if not provs:
            provs.append("SecurityGroupProvider" if name == "SecurityGroup" else VR)
    if "SourceNat" in out and guest_type != "Isolated":
        raise ParamError("SourceNat service is supported only by Isolated network offerings")
    return out


def in_use(session: Session, off: NetworkOffering) -> int:
    return session.scalar(select(func.count()).select_from(Network).where(
        Network.network_offering_id == off.id, Network.removed.is_(None))) or 0


__all__ = ["DEFAULTS", "DEFAULT_ISOLATED", "by_name", "ensure_seeded", "has_service", "parse_service_map", "seed",
           "services_of"]
