"""The VPC's virtual router: its record (a vm_instance row, vm_type DomainRouter, plus ``vpc_router_ref``) and the
implementer that turns a VPC's records into a ``VpcRouterSpec`` for ``network.vpc_router.VpcRouterProvider``.

``VpcRouterImplementer`` extends the isolated-network ``RouterImplementer``: a network with ``vpc_id`` (a tier) is
implemented, re-applied and shut down as a leg of its VPC's router; the VPC seams of ``routers`` (``vpc_started``,
``vpc_changed``, ``vpc_restart``, ``vpc_destroyed``) land here; router commands on a VPC router act on the VPC;
isolated networks also get their remote-access VPN in their ``RouterSpec``. Where routers are records only
(simulator zones), the records are kept exactly the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError, ResourceUnavailable
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import PhysicalNetwork, PublicIpAddress, VlanIpRange, Zone
from management.models.network import Network
from management.models.rules import NetworkRule, RouterNetwork
from management.models.vpc import InternalLbVm, NetworkAcl, NetworkAclItem, StaticRoute, Vpc, VpcGateway, VpcRouter
from management.network import host as nethost
from management.network import vpn as ipsec
from management.network.internal_lb import InternalLbProvider
from management.network.provider import PortRange, ProviderError, PublicSide, RouterSpec, SpecError, StaticNat
from management.network.vpc_router import VpcRouterProvider
from management.network.vpc_spec import AclEntry, PrivateGatewayLeg, Route, Tier, VpcRouterSpec
from management.services import naming
from management.services.network import acl as aclsvc
from management.services.network import internal_lb as ilb
from management.services.network import networks as netsvc
from management.services.network import routers
from management.services.network import vpn as vpnsvc

log = logging.getLogger(__name__)


def tier_key(net: Network) -> str:
    return f"t{net.id}"


def private_bridge_name(session: Session, gw: VpcGateway) -> str:
    """A private gateway's VLAN as a host bridge (one per physical network and VLAN: VPCs that share a private
    VLAN share the bridge), or the associated network's bridge."""
    if gw.associated_network_id is not None:
        net = session.get(Network, gw.associated_network_id)
        if net is not None:
            return netsvc.guest_bridge_name(net)
    pn = session.get(PhysicalNetwork, gw.physical_network_id) if gw.physical_network_id else None
    seed = f"{pn.uuid if pn else gw.zone_id}/{gw.vlan_tag or 'untagged'}"
    return "dcg" + hashlib.sha1(seed.encode()).hexdigest()[:11]


# ------------------------------------------------------------------------------------------------ records

def router_of_vpc(session: Session, vpc_id: int) -> tuple[VirtualMachine, VpcRouter] | None:
    row = session.execute(select(VirtualMachine, VpcRouter).join(VpcRouter, VpcRouter.router_id == VirtualMachine.id)
                          .where(VpcRouter.vpc_id == vpc_id, VirtualMachine.removed.is_(None))).first()
    return (row[0], row[1]) if row else None


def vpc_of_router(session: Session, vm: VirtualMachine) -> Vpc | None:
    ref = session.get(VpcRouter, vm.id)
    return session.get(Vpc, ref.vpc_id) if ref else None


def _key(session: Session, state_dir: Path, vpc: Vpc) -> str:
    return naming.appliance_key(naming.cloud_id(session), "v", vpc.id, str(Path(state_dir).resolve()))


def ensure_router(session: Session, vpc: Vpc, key: str) -> tuple[VirtualMachine, VpcRouter]:
    found = router_of_vpc(session, vpc.id)
    if found is not None:
        return found
    so = routers.router_offering(session)
    acct = session.get_one(Account, vpc.account_id)
    vm = VirtualMachine(instance_name="r-pending", name="r-pending", vm_type="DomainRouter", account_id=acct.id,
                        domain_id=acct.domain_id, zone_id=vpc.zone_id, service_offering_id=so.id, cpu=so.cpu or 1,
                        speed=so.speed or 0, ram_size=so.ram_size or 256, hypervisor_type="KVM", state="Stopped")
    session.add(vm)
    session.flush()
    vm.instance_name = vm.name = vm.display_name = f"r-{vm.id}-VM"
    ref = VpcRouter(router_id=vm.id, vpc_id=vpc.id, provider_key=key)
    session.add(ref)
    session.flush()
    return vm, ref


# ------------------------------------------------------------------------------------------------ spec

def acl_entries(session: Session, acl: NetworkAcl | None) -> tuple[tuple[AclEntry, ...], tuple[AclEntry, ...]]:
    """(ingress, egress) entries of a list in number order."""
    if acl is None:
        return (), ()
    ingress: list[AclEntry] = []
    egress: list[AclEntry] = []
    for item in session.scalars(select(NetworkAclItem).where(NetworkAclItem.acl_id == acl.id,
                                                             NetworkAclItem.state != "Revoke")
                                .order_by(NetworkAclItem.number, NetworkAclItem.id)):
        ports = None
        if item.protocol in ("tcp", "udp") and item.start_port is not None:
            end = item.end_port if item.end_port not in (None, item.start_port) else None
            ports = PortRange(item.start_port, end)
        icmp = item.protocol == "icmp"
        entry = AclEntry(allow=item.action == "Allow", protocol=item.protocol, ports=ports,
                         cidrs=routers._csv(item.cidr),
                         icmp_type=routers._icmp(item.icmp_type) if icmp else None,
                         icmp_code=routers._icmp(item.icmp_code) if icmp else None)
        (ingress if item.traffic_type == "Ingress" else egress).append(entry)
    return tuple(ingress), tuple(egress)


def build_vpc_spec(session: Session, vpc: Vpc, key: str, *, without: set[int] | None = None,
                   extra: set[int] | None = None) -> VpcRouterSpec:
    """The VPC's router from its records: implemented tiers (plus ``extra``, tiers being implemented now, minus
    ``without``, tiers being shut down), public IPs, private gateways, static routes, forwarding, VPN."""
    zone = session.get_one(Zone, vpc.zone_id)
    ips = list(session.scalars(select(PublicIpAddress).where(
        PublicIpAddress.vpc_id == vpc.id, PublicIpAddress.removed.is_(None),
        PublicIpAddress.state.in_(("Allocating", "Allocated")))
        .order_by(PublicIpAddress.source_nat.desc(), PublicIpAddress.id)))
    by_id = {i.id: i for i in ips}
    snat = next((i for i in ips if i.source_nat), None)
    public = None
    if ips:
        rng = session.get_one(VlanIpRange, ips[0].vlan_id)
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{rng.netmask}").prefixlen
        public = PublicSide(bridge=routers.public_bridge_name(session, zone),
                            ips=tuple(i.public_ip_address for i in ips), prefix=prefix, gateway=rng.gateway or "",
                            source_nat_ip=snat.public_ip_address if snat else None)
    static_by_vm = {i.vm_id: i.public_ip_address for i in ips if i.one_to_one_nat and i.vm_id}
    snat_ip = snat.public_ip_address if snat else ""
    tiers: list[Tier] = []
    metadata = {}
    tier_ids: set[int] = set()
    live = Network.state == "Implemented"
    if extra:
        live = live | Network.id.in_(extra)
    # a locking read: the latest committed tiers (MariaDB's snapshot could miss a tier another job just implemented,
    # and the router would lose that tier's leg)
    for net in session.scalars(select(Network).where(Network.vpc_id == vpc.id, Network.removed.is_(None), live)
                               .order_by(Network.id).with_for_update()):
        if without and net.id in without or not net.cidr or not net.gateway:
            continue
        tier_ids.add(net.id)
        dhcp, md = routers.guests(session, net, zone, static_by_vm, snat_ip)
        metadata.update(md)
        ingress, egress = acl_entries(session, aclsvc.list_for_tier(session, net))
        prefix = ipaddress.IPv4Network(net.cidr).prefixlen
        tiers.append(Tier(key=tier_key(net), bridge=netsvc.guest_bridge_name(net),
                          gateway_cidr=f"{net.gateway}/{prefix}", domain=net.network_domain or "cs.internal",
                          dns_servers=tuple(d for d in (vpc.dns1, vpc.dns2) if d), dhcp_hosts=tuple(dhcp),
                          ingress=ingress, egress=egress))
    gateways: list[PrivateGatewayLeg] = []
    routes: list[Route] = []
    gw_by_id: dict[int, VpcGateway] = {}
    for gw in session.scalars(select(VpcGateway).where(VpcGateway.vpc_id == vpc.id, VpcGateway.removed.is_(None),
                                                       VpcGateway.state == "Ready").order_by(VpcGateway.id)):
        gw_by_id[gw.id] = gw
        ingress, egress = acl_entries(session, session.get(NetworkAcl, gw.network_acl_id)
                                      if gw.network_acl_id else aclsvc.builtin(session, aclsvc.DEFAULT_DENY))
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{gw.netmask}").prefixlen
        gateways.append(PrivateGatewayLeg(key=f"p{gw.id}", bridge=private_bridge_name(session, gw),
                                          address_cidr=f"{gw.ip4_address}/{prefix}", gateway=gw.gateway,
                                          source_nat=gw.source_nat, ingress=ingress, egress=egress))
    for r in session.scalars(select(StaticRoute).where(StaticRoute.vpc_id == vpc.id, StaticRoute.removed.is_(None),
                                                       StaticRoute.state != "Revoke").order_by(StaticRoute.id)):
        via = gw_by_id[r.vpc_gateway_id].gateway if r.vpc_gateway_id in gw_by_id else r.next_hop
        if via:
            routes.append(Route(r.cidr, via))
    rules = list(session.scalars(select(NetworkRule).where(
        NetworkRule.ip_address_id.in_(list(by_id)) if by_id else NetworkRule.id.is_(None),
        NetworkRule.network_id.in_(tier_ids) if tier_ids else NetworkRule.id.is_(None),
        NetworkRule.removed.is_(None), NetworkRule.state != "Revoke").order_by(NetworkRule.id)))
    pfs, lbs = routers.forwarding(session, rules, by_id)
    statics = tuple(StaticNat(i.public_ip_address, i.vm_ip) for i in ips
                    if i.one_to_one_nat and i.vm_ip and not i.source_nat and i.network_id in tier_ids)
    return VpcRouterSpec(router_id=key, name=f"r-vpc-{vpc.id}", cidr=vpc.cidr, public=public, tiers=tuple(tiers),
                         gateways=tuple(gateways), routes=tuple(routes), port_forwards=tuple(pfs),
                         static_nats=statics, load_balancers=tuple(lbs), vpn=vpnsvc.spec_for_vpc(session, vpc),
                         metadata=metadata)


# ------------------------------------------------------------------------------------------------ implementer

class VpcRouterImplementer(routers.RouterImplementer):
    """Routers for isolated networks (the base class) and for VPCs (a leg per tier)."""

    def __init__(self, state_dir: str | Path, provider: Any = None, vpc_provider: VpcRouterProvider | None = None):
        super().__init__(state_dir, provider)
        self.vpc_provider = vpc_provider or VpcRouterProvider(self.state_dir)
        self.ilb_provider = InternalLbProvider(self.state_dir)

    # -- isolated networks: their remote-access VPN rides on the isolated router's spec
    def _spec(self, session: Session, net: Network, ref: RouterNetwork) -> RouterSpec:
        spec = super()._spec(session, net, ref)
        vpn = vpnsvc.spec_for_network(session, net)
        return dataclasses.replace(spec, vpn=vpn) if not vpn.empty and spec.public is not None else spec

    # -- tiers (GuestNetworkImplementer seam)
    def serves(self, session: Session, net: Network) -> bool:
        if net.vpc_id is not None:
            return routers.zone_routed(session, net.zone_id)
        return super().serves(session, net)

    def implement(self, session: Session, net: Network) -> None:
        if net.vpc_id is None:
            return super().implement(session, net)
        vpc = session.get_one(Vpc, net.vpc_id)
        self.start_vpc(session, vpc.id, extra={net.id})
        return None

    def shutdown(self, session: Session, net: Network) -> None:
        if net.vpc_id is None:
            return super().shutdown(session, net)
        for appliance in ilb.appliances(session, net):
            ilb.destroy_appliance(session, appliance)
        self._apply(session, net.vpc_id, full=True, without={net.id})
        return None

    def apply(self, session: Session, net: Network) -> None:
        if net.vpc_id is None:
            return super().apply(session, net)
        self.apply_vpc(session, net.vpc_id)
        for appliance in ilb.appliances(session, net):
            vm = session.get_one(VirtualMachine, appliance.vm_id)
            if vm.state in ("Starting", "Running"):
                self.ilb_start(session, vm)
        return None

    # -- VPC seams (routers.vpc_*)
    def vpc_routed(self, session: Session, vpc_id: int) -> bool:
        vpc = session.get(Vpc, vpc_id)
        return vpc is not None and routers.zone_routed(session, vpc.zone_id)

    def start_vpc(self, session: Session, vpc_id: int, extra: set[int] | None = None) -> None:
        vpc = session.get_one(Vpc, vpc_id)
        vm, _ = ensure_router(session, vpc, _key(session, self.state_dir, vpc))
        self._apply(session, vpc_id, full=True, extra=extra)
        routers._set_state(session, vm, "Running")

    def apply_vpc(self, session: Session, vpc_id: int) -> None:
        found = router_of_vpc(session, vpc_id)
        if found is None or found[0].state != "Running":
            return
        self._apply(session, vpc_id, full=False)

    def restart_vpc(self, session: Session, vpc_id: int, *, cleanup: bool) -> None:
        vpc = session.get_one(Vpc, vpc_id)
        vm, ref = ensure_router(session, vpc, _key(session, self.state_dir, vpc))
        if cleanup and self.vpc_routed(session, vpc_id):
            self._destroy_ns(ref.provider_key)
        self._apply(session, vpc_id, full=True)
        routers._set_state(session, vm, "Running")

    def destroy_vpc(self, session: Session, vpc_id: int) -> None:
        found = router_of_vpc(session, vpc_id)
        if found is None:
            return
        vm, ref = found
        if self.vpc_routed(session, vpc_id):
            self._destroy_ns(ref.provider_key)
        self._expunge_record(session, vm)

    # -- VPN control (vpn service)
    def vpn_states(self, session: Session, vpc_id: int) -> dict[str, str] | None:
        found = router_of_vpc(session, vpc_id)
        if found is None or not self.vpc_routed(session, vpc_id):
            return None
        return ipsec.sa_states(self.vpc_provider.vpn_paths(found[1].provider_key))

    def vpn_initiate(self, session: Session, vpc_id: int, name: str) -> None:
        found = router_of_vpc(session, vpc_id)
        if found is None or found[0].state != "Running":
            return
        vpc = session.get_one(Vpc, vpc_id)
        for conn in vpnsvc.s2s_for_vpc(session, vpc):
            if conn.name == name:
                ipsec.initiate(self.vpc_provider.vpn_paths(found[1].provider_key), conn)

    def vpn_reset(self, session: Session, vpc_id: int, name: str, *, initiate: bool) -> None:
        found = router_of_vpc(session, vpc_id)
        if found is None:
            return
        ipsec.terminate(self.vpc_provider.vpn_paths(found[1].provider_key), name)
        if initiate:
            self.vpn_initiate(session, vpc_id, name)

    # -- internal load-balancer appliances (internal_lb service)
    def ilb_start(self, session: Session, vm: VirtualMachine) -> None:
        appliance = session.get_one(InternalLbVm, vm.id)
        net = session.get_one(Network, appliance.network_id)
        if routers.zone_routed(session, net.zone_id):
            try:
                self.ilb_provider.implement(ilb.spec_of(session, appliance).validate())
            except (ProviderError, OSError, SpecError) as e:
                raise ResourceUnavailable(f"Unable to start internal load balancer {vm.name}: {e}") from e
        routers._set_state(session, vm, "Running")

    def ilb_stop(self, session: Session, vm: VirtualMachine) -> None:
        appliance = session.get_one(InternalLbVm, vm.id)
        self.ilb_destroy(session, appliance)
        routers._set_state(session, vm, "Stopped")

    def ilb_destroy(self, session: Session, appliance: InternalLbVm) -> None:
        net = session.get(Network, appliance.network_id)
        if net is not None and routers.zone_routed(session, net.zone_id):
            try:
                self.ilb_provider.destroy(appliance.provider_key)
            except (ProviderError, OSError) as e:
                raise ResourceUnavailable(f"Unable to destroy internal load balancer {appliance.vm_id}: {e}") from e

    # -- router commands on a VPC router
    def start(self, session: Session, vm: VirtualMachine) -> None:
        vpc = vpc_of_router(session, vm)
        if vpc is None:
            return super().start(session, vm)
        self._apply(session, vpc.id, full=True)
        routers._set_state(session, vm, "Running")
        return None

    def stop(self, session: Session, vm: VirtualMachine) -> None:
        vpc = vpc_of_router(session, vm)
        if vpc is None:
            return super().stop(session, vm)
        if self.vpc_routed(session, vpc.id):
            self._destroy_ns(session.get_one(VpcRouter, vm.id).provider_key)
        routers._set_state(session, vm, "Stopped")
        return None

    def reboot(self, session: Session, vm: VirtualMachine) -> None:
        vpc = vpc_of_router(session, vm)
        if vpc is None:
            return super().reboot(session, vm)
        if vm.state != "Running":
            raise ParamError(f"Unable to reboot router {vm.name} in state {vm.state}")
        if self.vpc_routed(session, vpc.id):
            ref = session.get_one(VpcRouter, vm.id)
            try:
                self.vpc_provider.reboot(self._vpc_spec(session, vpc, ref.provider_key))
            except ProviderError as e:
                raise ResourceUnavailable(f"Router {vm.name} failed to reboot: {e}") from e
        return None

    def destroy(self, session: Session, vm: VirtualMachine) -> Network | None:
        vpc = vpc_of_router(session, vm)
        if vpc is None:
            return super().destroy(session, vm)
        if self.vpc_routed(session, vpc.id):
            self._destroy_ns(session.get_one(VpcRouter, vm.id).provider_key)
        self._expunge_record(session, vm)
        vpc.restart_required = True
        session.flush()
        return None

    def restore(self, session: Session) -> dict[str, Any]:
        out = super().restore(session)
        rows = session.execute(select(VirtualMachine, VpcRouter).join(VpcRouter, VpcRouter.router_id ==
                                                                      VirtualMachine.id)
                               .where(VirtualMachine.removed.is_(None), VirtualMachine.state == "Running")).all()
        for vm, ref in rows:
            vpc = session.get(Vpc, ref.vpc_id)
            if vpc is None or vpc.removed is not None or not self.vpc_routed(session, vpc.id):
                continue
            try:
                self._apply(session, vpc.id, full=True)
                out[vm.name] = "ok"
            except Exception as e:  # noqa: BLE001 - one broken router must not stop the server
                log.warning("VPC router %s not restored: %s", vm.name, e)
                out[vm.name] = e
        for vm in session.scalars(select(VirtualMachine).where(VirtualMachine.removed.is_(None),
                                                               VirtualMachine.vm_type == ilb.VM_TYPE,
                                                               VirtualMachine.state == "Running")):
            try:
                self.ilb_start(session, vm)
                out[vm.name] = "ok"
            except Exception as e:  # noqa: BLE001 - one broken appliance must not stop the server
                log.warning("internal load balancer %s not restored: %s", vm.name, e)
                out[vm.name] = e
        return out

    # -- plumbing
    def _vpc_spec(self, session: Session, vpc: Vpc, key: str, *, without: set[int] | None = None,
                  extra: set[int] | None = None) -> VpcRouterSpec:
        try:
            return build_vpc_spec(session, vpc, key, without=without, extra=extra).validate()
        except SpecError as e:
            raise ParamError(f"Invalid router configuration for VPC {vpc.name}: {e}") from e

    def _apply(self, session: Session, vpc_id: int, *, full: bool, without: set[int] | None = None,
               extra: set[int] | None = None) -> None:
        """Converge the VPC's router to its records. ``extra``: tiers being implemented in this transaction
        (state Implementing, counted in); ``without``: a tier being shut down. ``full`` is informational: the
        provider converges everything and leaves unchanged parts alone."""
        vpc = session.get_one(Vpc, vpc_id)
        if not self.vpc_routed(session, vpc_id):
            return
        session.refresh(vpc, with_for_update=True)  # one convergence of a VPC's router at a time
        found = router_of_vpc(session, vpc_id)
        if found is None:
            return
        spec = self._vpc_spec(session, vpc, found[1].provider_key, without=without, extra=extra)
        try:
            if spec.public is not None:
                zone = session.get_one(Zone, vpc.zone_id)
                ip = session.scalar(select(PublicIpAddress).where(PublicIpAddress.vpc_id == vpc.id,
                                                                  PublicIpAddress.removed.is_(None)).limit(1))
                rng = session.get_one(VlanIpRange, ip.vlan_id) if ip else None
                if rng is not None:
                    nethost.ensure_public_bridge(routers.public_bridge_name(session, zone),
                                                 f"{rng.gateway}/{spec.public.prefix}")
            # always the whole convergence: legs and addresses follow tiers and IPs; unchanged parts are no-ops
            self.vpc_provider.implement(spec)
        except (ProviderError, OSError, SpecError) as e:
            raise ResourceUnavailable(f"Unable to implement the virtual router of VPC {vpc.name}: {e}") from e

    def _destroy_ns(self, key: str) -> None:
        try:
            self.vpc_provider.destroy(key)
        except (ProviderError, OSError) as e:
            raise ResourceUnavailable(f"Unable to destroy virtual router {key}: {e}") from e


def install(runtime: Any) -> routers.RouterImplementer:
    """Server start: the router implementer that knows VPCs (see ``routers.install``)."""
    return routers.install(runtime, VpcRouterImplementer)


__all__ = ["VpcRouterImplementer", "build_vpc_spec", "install", "router_of_vpc", "vpc_of_router"]

