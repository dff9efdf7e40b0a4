"""What the network layer of this cloud is made of, as CloudStack's discovery commands describe it: the services
and which provider implements them with which capabilities, the traffic type implementors (CloudStack's network
gurus), the isolation methods, and the network service providers of a physical network (add/delete, their
elements).

The capabilities describe what the namespace router really does here (haproxy, nftables, dnsmasq): e.g. load
balancing is TCP only, there is no redundant router. Providers that need an appliance (Netscaler, F5, SRX, ...)
are known by name, as in a CloudStack without their plugins: adding them is refused.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError, ResourceInUse
from management.models.infra import NetworkServiceProvider, PhysicalNetwork, TrafficType, VirtualRouterElement
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.services.infra import infra
from management.services.network import network_offerings as offerings
from management.services.network.lb_policies import STICKINESS_METHODS

# Providers this cloud implements (services per provider are infra.PROVIDERS); Ovs and ConfigDrive are records
# with no appliance behind them, as in CloudStack.
IMPLEMENTED = {**{k: v.split(",") for k, v in infra.PROVIDERS.items()}, "ConfigDrive": ["UserData"],
               "Ovs": ["Connectivity"]}
# Providers CloudStack knows whose element needs an appliance or a plugin that cannot run here.
APPLIANCE_PROVIDERS = ("Netscaler", "F5BigIp", "JuniperSRX", "PaloAlto", "NiciraNvp", "CiscoVnmc",
                       "BrocadeVcs", "BigSwitchBcf", "Opendaylight", "GloboDns", "JuniperContrailRouter",
                       "JuniperContrailVpcRouter", "ElasticLoadBalancerVm", "ExternalDhcpServer",
                       "ExternalGateWay", "BaremetalDhcpProvider", "BaremetalPxeProvider",
                       "BaremetalUserdataProvider", "Tungsten", "Nsx", "Netris", "NetscalerVPX")

# Traffic type -> the CloudStack network gurus whose job this cloud does.
IMPLEMENTORS = (("Public", "PublicNetworkGuru"), ("Guest", "ExternalGuestNetworkGuru"),
                ("Guest", "DirectNetworkGuru"), ("Guest", "DirectPodBasedNetworkGuru"),
                ("Management", "PodBasedNetworkGuru"), ("Control", "ControlNetworkGuru"),
                ("Storage", "StorageNetworkGuru"))
TRAFFIC_TYPES = ("Public", "Guest", "Storage", "Management", "Control", "Vpn")

AUTOSCALE_COUNTERS = [{"name": "Cpu"}, {"name": "Memory"}]


def _capabilities() -> dict[str, dict[str, str]]:
    sticky = [{"methodName": m.name, "description": m.description,
               "paramList": [{"paramname": p.name, "required": p.required, "isflag": p.flag,
                              "description": p.description} for p in m.params]}
              for m in STICKINESS_METHODS.values()]
    return {
        "Lb": {"SupportedLBAlgorithms": "roundrobin,leastconn,source", "SupportedLBIsolation": "dedicated",
               "SupportedProtocols": "tcp", "SupportedStickinessMethods": json.dumps(sticky),
               "LbSchemes": "Public", "HealthCheckPolicy": "true", "VmAutoScaling": "true",
               "AutoScaleCounters": json.dumps(AUTOSCALE_COUNTERS)},
        "Firewall": {"TrafficStatistics": "per public ip", "SupportedProtocols": "tcp,udp,icmp",
                     "SupportedEgressProtocols": "tcp,udp,icmp, all", "SupportedTrafficDirection": "ingress, egress",
                     "MultipleIps": "true"},
        "Dns": {"AllowDnsSuffixModification": "true"},
        "Dhcp": {"DhcpAccrossMultipleSubnets": "true"},
        "SourceNat": {"SupportedSourceNatTypes": "peraccount", "RedundantRouter": "false"},
        "PortForwarding": {"SupportedProtocols": "tcp,udp"},
        "Vpn": {"SupportedVpnProtocols": "pptp,l2tp,ipsec", "VpnTypes": "removeaccessvpn"},
    }


def supported_services(provider: str | None, service: str | None) -> list[tuple[str, list[str], dict[str, str]]]:
    """(service, providers implementing it here, capabilities) for listSupportedNetworkServices."""
    if provider is not None and provider not in IMPLEMENTED:
        if provider in APPLIANCE_PROVIDERS or provider in offerings.PROVIDERS:
            return []
        raise ParamError(f"Invalid Network Service Provider={provider}")
    if service is not None and service not in offerings.SERVICES:
        raise ParamError(f"Invalid Network Service={service}")
    caps = _capabilities()
    out = []
    for svc in offerings.SERVICES:
        if service is not None and svc != service:
            continue
        provs = [p for p, svcs in IMPLEMENTED.items() if svc in svcs]
        if provider is not None:
            if provider not in provs:
                continue
            provs = [provider]
        if not provs:
            continue
        out.append((svc, provs, caps.get(svc, {}) if "VirtualRouter" in provs else {}))
    return out


def implementors(traffic_type: str | None) -> list[tuple[str, str]]:
    if traffic_type is None:
        return list(IMPLEMENTORS)
    tt = next((t for t in TRAFFIC_TYPES if t.lower() == traffic_type.lower()), None)
    if tt is None:
        raise ParamError(f"Failed to list traffic type implementors: invalid traffic type {traffic_type}")
    return [(t, g) for t, g in IMPLEMENTORS if t == tt]


def isolation_methods() -> list[str]:
    return list(infra.ISOLATION_METHODS)


# ------------------------------------------------------------------------------------------------ providers

def add_provider(session: Session, pn: PhysicalNetwork, name: str, dest: PhysicalNetwork | None,
                 services: list[str] | None) -> NetworkServiceProvider:
    canonical = next((p for p in (*IMPLEMENTED, *APPLIANCE_PROVIDERS) if p.lower() == name.lower()), None)
    if canonical is None:
        raise ParamError(f"Invalid Network Service Provider={name}")
    if canonical not in IMPLEMENTED:
        raise ParamError(f"Unable to find the Network Element implementing the Service Provider '{canonical}'")
    dup = session.scalar(select(NetworkServiceProvider.id).where(
        NetworkServiceProvider.physical_network_id == pn.id, NetworkServiceProvider.name == canonical,
        NetworkServiceProvider.removed.is_(None)))
    if dup is not None:
        raise ParamError(f"The '{canonical}' provider already exists on physical network : {pn.uuid}")
    supported = IMPLEMENTED[canonical]
    chosen = services if services else supported
    bad = [s for s in chosen if s not in supported]
    if bad:
        raise ParamError(f"Provider {canonical} does not support services {', '.join(bad)}")
    nsp = NetworkServiceProvider(physical_network_id=pn.id, name=canonical, state="Disabled",
                                 services=",".join(chosen), dest_physical_network_id=dest.id if dest else None)
    session.add(nsp)
    session.flush()
    if canonical in (*infra._ELEMENT_PROVIDERS, "Ovs"):
        session.add(VirtualRouterElement(nsp_id=nsp.id, type=canonical, enabled=False))
        session.flush()
    return nsp


def delete_provider(session: Session, nsp: NetworkServiceProvider) -> None:
    users = session.scalars(select(NetworkOffering).where(NetworkOffering.removed.is_(None)))
    using = [o.id for o in users if any(nsp.name in provs for provs in offerings.services_of(o).values())]
    if using:
        in_use = session.scalar(select(Network.id).where(
            Network.physical_network_id == nsp.physical_network_id, Network.removed.is_(None),
            Network.network_offering_id.in_(using)).limit(1))
        if in_use is not None:
            raise ResourceInUse("Provider is not deletable because there are active networks using this provider, "
                                "please upgrade these networks to new network offerings")
    for el in session.scalars(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == nsp.id)):
        session.delete(el)
    session.flush()
    session.delete(nsp)
    session.flush()


def create_element(session: Session, nsp: NetworkServiceProvider, provider_type: str | None) -> VirtualRouterElement:
    kind = provider_type or "VirtualRouter"
    canonical = {"virtualrouter": "VirtualRouter", "vpcvirtualrouter": "VpcVirtualRouter"}.get(kind.lower())
    if canonical is None:
        raise ParamError(f"Element of type {kind} is not supported: VirtualRouter or VPCVirtualRouter")
    existing = session.scalar(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == nsp.id,
                                                                 VirtualRouterElement.type == canonical,
                                                                 VirtualRouterElement.removed.is_(None)))
    if existing is not None:
        raise ParamError(f"There is already a virtual router element with service provider id {nsp.uuid}")
    el = VirtualRouterElement(nsp_id=nsp.id, type=canonical, enabled=False)
    session.add(el)
    session.flush()
    return el


def update_traffic_type(session: Session, tt: TrafficType, labels: dict[str, str | None]) -> TrafficType:
    for attr, value in labels.items():
        if value is not None:
            setattr(tt, attr, value or None)
    session.flush()
    return tt
