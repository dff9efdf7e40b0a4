"""Virtual routers: the records (vm_instance rows with vm_type DomainRouter + router_network_ref) and the
``GuestNetworkImplementer`` that turns a network's records into a ``RouterSpec`` for the network provider.

Where it acts for real: zones whose hosts are not simulators (libvirt: KVM/QEMU), or a zone whose details say
``{"guest.router": "namespace"}`` (tests with netns guests). Simulator zones keep records only.

Every change that affects what the router serves (a NIC allocated/released, a rule created/deleted, an IP associated
or static-NATed) calls :func:`network_changed` inside the same transaction, which re-renders the whole spec from the
(flushed) records and converges the router before the change is committed and reported to the client.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.db.prepared import prepared
from management.errors import ParamError, ResourceUnavailable, logged
from management.models.compute import SSHKeyPair, VirtualMachine
from management.models.identity import Account
from management.models.infra import Host, PublicIpAddress, VlanIpRange, Zone
from management.models.lb_policies import LbHealthCheckPolicy, LbStickinessPolicy
from management.models.network import Network, Nic
from management.models.offerings import NetworkOffering, ServiceOffering
from management.models.rules import LoadBalancerVmMap, NetworkRule, RouterNetwork
from management.network import host as nethost
from management.network.provider import (
    DhcpHost,
    EgressRule,
    FirewallRule,
    GuestSide,
    LbBackend,
    LbHealthCheck,
    LbStickiness,
    LoadBalancerRule,
    NetworkProvider,
    PortForward,
    PortRange,
    ProviderError,
    PublicSide,
    RouterSpec,
    SpecError,
    StaticNat,
    VmMetadata,
)
from management.services import naming
from management.services.network import network_offerings as offerings
from management.services.network import networks as netsvc
from management.services.network import routed_spec

log = logging.getLogger(__name__)

ROUTER_OFFERING = "System Offering For Software Router"
LIVE_ROUTER_STATES = ("Starting", "Running", "Stopping", "Stopped")


# ------------------------------------------------------------------------------------------------ where it is real

def zone_routed(session: Session, zone_id: int) -> bool:
    """True when the zone's guest networks get a real router on this host (libvirt hosts, or opted in)."""
    zone = session.get(Zone, zone_id)
    if zone is None:
        return False
    try:
        details = json.loads(zone.details_json or "{}")
    except ValueError:
        details = {}
    if isinstance(details, dict) and details.get("guest.router") in ("namespace", "none"):
        return bool(details.get("guest.router") == "namespace")
    return session.scalar(prepared("routers-zone-real-host", lambda: select(Host.id).where(
        Host.zone_id == bindparam("zone_id"), Host.removed.is_(None), Host.hypervisor_type != "Simulator").limit(1)),
        {"zone_id": zone_id}) is not None


LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")  # CloudStack's control.cidr; 169.254.0.1 is its gateway


def link_local_ip(router_id: int) -> str:
    """The control address CloudStack gives a KVM or simulator router from the zone's link-local network; here a
    record of simulated zones (a namespace router has no control NIC), one per router: 169.254.0.2 upwards."""
    span = LINK_LOCAL.num_addresses - 3  # neither the network, its gateway .0.1, nor the broadcast address
    return str(LINK_LOCAL.network_address + 2 + (router_id - 1) % span)


def public_bridge_name(session: Session, zone: Zone) -> str:
    return naming.public_bridge(zone.id, naming.cloud_id(session))


# ------------------------------------------------------------------------------------------------ router records

def router_offering(session: Session) -> ServiceOffering:
    so = session.scalar(select(ServiceOffering).where(ServiceOffering.name == ROUTER_OFFERING,
                                                      ServiceOffering.removed.is_(None)).limit(1))
    if so is None:
        so = ServiceOffering(name=ROUTER_OFFERING, display_text="System Offering For Software Router", cpu=1,
                             speed=500, ram_size=256, is_system=True, system_vm_type="domainrouter",
                             default_use=True)
        session.add(so)
        session.flush()
    return so


def router_of(session: Session, net: Network) -> tuple[VirtualMachine, RouterNetwork] | None:
    row = session.execute(prepared("router-of-network", lambda: select(VirtualMachine, RouterNetwork).join(
        RouterNetwork, RouterNetwork.router_id == VirtualMachine.id).where(
        RouterNetwork.network_id == bindparam("network_id"), VirtualMachine.removed.is_(None))),
        {"network_id": net.id}).first()
    return (row[0], row[1]) if row else None


def network_of_router(session: Session, router: VirtualMachine) -> Network | None:
    ref = session.get(RouterNetwork, router.id)
    return session.get(Network, ref.network_id) if ref else None


def _key(session: Session, state_dir: Path, net: Network) -> str:
    return naming.router_key(naming.cloud_id(session), net.id, state_dir)


def _source_nat(session: Session, net: Network) -> PublicIpAddress | None:
    return session.scalar(select(PublicIpAddress).where(
        PublicIpAddress.network_id == net.id, PublicIpAddress.source_nat.is_(True),
        PublicIpAddress.removed.is_(None)))


def ensure_router(session: Session, net: Network, key: str) -> tuple[VirtualMachine, RouterNetwork]:
    found = router_of(session, net)
    snat = _source_nat(session, net)
    if found is None:
        so = router_offering(session)
        acct = session.get_one(Account, net.account_id)
        vm = VirtualMachine(instance_name="r-pending", name="r-pending", vm_type="DomainRouter",
                            account_id=acct.id, domain_id=acct.domain_id, zone_id=net.zone_id,
                            service_offering_id=so.id, cpu=so.cpu or 1, speed=so.speed or 0,
                            ram_size=so.ram_size or 256, hypervisor_type="KVM", state="Stopped")
        session.add(vm)
        session.flush()
        vm.instance_name = vm.name = vm.display_name = f"r-{vm.id}-VM"
        ref = RouterNetwork(router_id=vm.id, network_id=net.id, provider_key=key)
        session.add(ref)
        session.flush()
        found = (vm, ref)
    vm, ref = found
    ref.guest_ip = net.gateway
    ref.public_ip = snat.public_ip_address if snat else None
    session.flush()
    return vm, ref


def _set_state(session: Session, vm: VirtualMachine, want: str) -> None:
    path = {"Running": ("StartRequested", "OperationSucceeded"), "Stopped": ("StopRequested", "OperationSucceeded")}
    if vm.state == want:
        return
    try:
        for ev in path[want]:
            fsm.transition(session, vm, ev)
            if vm.state == want:
                return
    except Exception:  # noqa: BLE001 - a router's state follows what the provider did
        pass
    if vm.state != want:
        fsm.force_state(session, vm, want)


# ------------------------------------------------------------------------------------------------ spec

def _ports(a: int | None, b: int | None) -> PortRange | None:
    if a is None:
        return None
    return PortRange(a, b if b is not None and b != a else None)


def _csv(v: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in (v or "").split(",") if c.strip()) or ("0.0.0.0/0",)


def _icmp(v: int | None) -> int | None:
    return None if v is None or v < 0 else v


def _user_data(raw: str | None) -> bytes:
    if not raw:
        return b""
    try:
        return base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError):
        return raw.encode()


def _lb_policies(session: Session, rule_id: int) -> tuple[LbStickiness | None, LbHealthCheck | None]:
    """The rule's stickiness and health-check policies (services.network.lb_policies writes them)."""
    sticky = session.scalars(select(LbStickinessPolicy).where(LbStickinessPolicy.load_balancer_id == rule_id,
                                                              LbStickinessPolicy.revoke.is_(False))
                             .order_by(LbStickinessPolicy.id.desc())).first()
    hc = session.scalars(select(LbHealthCheckPolicy).where(LbHealthCheckPolicy.load_balancer_id == rule_id,
                                                           LbHealthCheckPolicy.revoke.is_(False))
                         .order_by(LbHealthCheckPolicy.id)).first()
    st = None
    if sticky is not None:
        params = json.loads(sticky.params_json or "{}")
        st = LbStickiness(sticky.method_name, tuple(sorted((str(k), str(v)) for k, v in params.items())))  # type: ignore[arg-type]
    check = LbHealthCheck(hc.ping_path, hc.response_time, hc.interval, hc.healthy_threshold,
                          hc.unhealthy_threshold) if hc is not None else None
    return st, check


def build_spec(session: Session, net: Network, key: str) -> RouterSpec:
    zone = session.get_one(Zone, net.zone_id)
    shared = _shared_cidr(session, net) if net.guest_type == "Shared" else None
    if shared is not None:  # DHCP/DNS/user data only: the router holds the range's gateway address
        cidr, gateway = shared
    else:
        cidr = ipaddress.IPv4Network(net.cidr or netsvc.DEFAULT_GUEST_CIDR)
        gateway = net.gateway or str(next(cidr.hosts()))
    ips = [] if net.guest_type == "Shared" else list(session.scalars(select(PublicIpAddress).where(
        PublicIpAddress.network_id == net.id, PublicIpAddress.removed.is_(None),
        PublicIpAddress.state.in_(("Allocating", "Allocated"))).order_by(PublicIpAddress.id)))
    by_id = {i.id: i for i in ips}
    public = None
    snat = next((i for i in ips if i.source_nat), None)
    if ips:
        rng = session.get_one(VlanIpRange, ips[0].vlan_id)
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{rng.netmask}").prefixlen
        public = PublicSide(bridge=public_bridge_name(session, zone), ips=tuple(i.public_ip_address for i in ips),
                            prefix=prefix, gateway=rng.gateway or "",
                            source_nat_ip=snat.public_ip_address if snat else None)
    static_by_vm = {i.vm_id: i.public_ip_address for i in ips if i.one_to_one_nat and i.vm_id}
    dhcp, metadata = guests(session, net, zone, static_by_vm, snat.public_ip_address if snat else "")
    rules = list(session.scalars(select(NetworkRule).where(
        NetworkRule.network_id == net.id, NetworkRule.removed.is_(None), NetworkRule.state != "Revoke")
        .order_by(NetworkRule.id)))
    fw: list[FirewallRule] = []
    eg: list[EgressRule] = []
    for r in rules:
        pub = by_id.get(r.ip_address_id) if r.ip_address_id else None
        if r.purpose == "Firewall" and r.traffic_type == "Egress":
            eg.append(EgressRule(r.protocol, _ports(r.start_port, r.end_port), _csv(r.dest_cidrs),  # type: ignore
                                 _icmp(r.icmp_type), _icmp(r.icmp_code)))
        elif r.purpose == "Firewall" and pub is not None:
            fw.append(FirewallRule(pub.public_ip_address, r.protocol, _ports(r.start_port, r.end_port),  # type: ignore
                                   _csv(r.source_cidrs), _icmp(r.icmp_type), _icmp(r.icmp_code)))
    pfs, lbs = forwarding(session, rules, by_id)
    statics = tuple(StaticNat(i.public_ip_address, i.vm_ip) for i in ips
                    if i.one_to_one_nat and i.vm_ip and not i.source_nat)
    off = session.get_one(NetworkOffering, net.network_offering_id)
    dns = tuple(d for d in (net.dns1, net.dns2) if d)
    routed = routed_spec.spec_fields(session, net, off, rules, session.get(VlanIpRange, ips[0].vlan_id)
                                     if ips else None)
    return RouterSpec(
        router_id=key, name=f"r-{net.id}",
        guest=GuestSide(bridge=netsvc.guest_bridge_name(net), gateway_cidr=f"{gateway}/{cidr.prefixlen}",
                        domain=net.network_domain or "cs.internal", dns_servers=dns),
        public=public, dhcp_hosts=tuple(dhcp), firewall=tuple(fw), egress=tuple(eg),
        egress_default="allow" if off.egress_default_policy else "deny",
        port_forwards=tuple(pfs), static_nats=statics, load_balancers=tuple(lbs), metadata=metadata, **routed,
    )


def guests(session: Session, net: Network, zone: Zone, static_by_vm: dict[int, str], snat_ip: str) \
        -> tuple[list[DhcpHost], dict[str, VmMetadata]]:
    """The network's guests as the router serves them: DHCP static leases and metadata (by guest IP)."""
    nics = list(session.scalars(select(Nic).where(Nic.network_id == net.id, Nic.removed.is_(None),
                                                  Nic.ip4_address.is_not(None), Nic.vm_type == "User")
                                .order_by(Nic.id)))
    vms = {v.id: v for v in session.scalars(select(VirtualMachine).where(
        VirtualMachine.id.in_({n.instance_id for n in nics}), VirtualMachine.removed.is_(None)))} if nics else {}
    dhcp: list[DhcpHost] = []
    metadata: dict[str, VmMetadata] = {}
    for n in nics:
        vm = vms.get(n.instance_id)
        if vm is None or vm.state in ("Destroyed", "Expunging"):
            continue
        dhcp.append(DhcpHost(n.mac_address.lower(), n.ip4_address, vm.name))  # type: ignore[arg-type]
        keys: tuple[str, ...] = ()
        if vm.keypairs:
            names = [k for k in vm.keypairs.split(",") if k]
            keys = tuple(session.scalars(select(SSHKeyPair.public_key).where(
                SSHKeyPair.account_id == vm.account_id, SSHKeyPair.name.in_(names))))
        so = session.get(ServiceOffering, vm.service_offering_id)
        metadata[n.ip4_address] = VmMetadata(  # type: ignore[index]
            instance_id=vm.instance_name, local_hostname=vm.name, user_data=_user_data(vm.user_data),
            public_keys=keys, availability_zone=zone.name, local_ipv4=n.ip4_address or "",
            public_ipv4=static_by_vm.get(vm.id) or snat_ip, vm_id=vm.uuid,
            service_offering=so.name if so else "")
    return dhcp, metadata


def forwarding(session: Session, rules: list[NetworkRule], by_id: dict[int, PublicIpAddress]) \
        -> tuple[list[PortForward], list[LoadBalancerRule]]:
    """Port forwarding and (public) load-balancing rules among ``rules``, on the public IPs of ``by_id``."""
    pfs: list[PortForward] = []
    lbs: list[LoadBalancerRule] = []
    for r in rules:
        pub = by_id.get(r.ip_address_id) if r.ip_address_id else None
        if pub is None:
            continue
        if r.purpose == "PortForwarding" and r.dest_ip:
            pfs.append(PortForward(pub.public_ip_address, PortRange(r.start_port or 1, r.end_port),
                                   r.dest_ip, PortRange(r.dest_start_port or 1, r.dest_end_port),
                                   r.protocol, False, _csv(r.source_cidrs)))  # type: ignore[arg-type]
        elif r.purpose == "LoadBalancing":
            members = session.scalars(select(LoadBalancerVmMap).where(LoadBalancerVmMap.load_balancer_id == r.id)
                                      .order_by(LoadBalancerVmMap.id))
            backends = tuple(LbBackend(m.vm_ip, r.dest_start_port or 0) for m in members if m.vm_ip)
            pem = _lb_pem(session, r.id) if r.protocol == "ssl" else None
            if backends and (pem or r.protocol != "ssl"):  # an ssl rule serves once it has its certificate
                lbs.append(LoadBalancerRule(f"lb{r.id}", pub.public_ip_address, r.start_port or 0, backends,
                                            (r.algorithm or "roundrobin"), False,  # type: ignore[arg-type]
                                            _csv(r.source_cidrs), *_lb_policies(session, r.id), ssl_pem=pem))
    return pfs, lbs


# ------------------------------------------------------------------------------------------------ implementer

def _has_router_service(session: Session, net: Network) -> bool:
    """Isolated networks with DHCP/DNS/source NAT get a router; so do shared networks with DHCP (a Basic zone's
    guest network: DHCP, DNS and user data only, no public side, no NAT)."""
    if net.guest_type not in ("Isolated", "Shared"):
        return False
    off = session.get(NetworkOffering, net.network_offering_id)
    if off is None:
        return False
    if net.guest_type == "Shared":
        return offerings.has_service(off, "Dhcp") and _shared_cidr(session, net) is not None
    return any(offerings.has_service(off, s) for s in ("Dhcp", "SourceNat", "Dns"))


def _shared_cidr(session: Session, net: Network) -> tuple[ipaddress.IPv4Network, str] | None:
    """(CIDR, gateway) of a shared network: its own, else its first direct IP range (a Basic zone's pod range)."""
    if net.cidr and net.gateway:
        return ipaddress.IPv4Network(net.cidr), net.gateway
    for r in netsvc._ip_ranges(session, net):
        if r.gateway and r.netmask:
            return ipaddress.IPv4Network(f"{r.gateway}/{r.netmask}", strict=False), r.gateway
    return None


class RouterImplementer:
    """``services.network.networks.GuestNetworkImplementer`` backed by a ``NetworkProvider`` (the namespace router)."""

    def __init__(self, state_dir: str | Path, provider: NetworkProvider | None = None) -> None:
        self.state_dir = Path(state_dir)
        if provider is None:
            from management.network.vr import NamespaceRouterProvider

            provider = NamespaceRouterProvider(self.state_dir)
        self.provider = provider

    # -- the seam services.network.networks calls
    def serves(self, session: Session, net: Network) -> bool:
        """True when the network gets a real router here (used to implement shared networks on first use)."""
        return _has_router_service(session, net) and zone_routed(session, net.zone_id)

    def implement(self, session: Session, net: Network) -> None:
        if not _has_router_service(session, net):
            return
        vm, ref = ensure_router(session, net, _key(session, self.state_dir, net))
        if zone_routed(session, net.zone_id):
            self._converge(session, net, ref, full=True)
        _set_state(session, vm, "Running")

    def shutdown(self, session: Session, net: Network) -> None:
        found = router_of(session, net)
        if found is None:
            return
        vm, ref = found
        if zone_routed(session, net.zone_id):
            self._destroy(ref.provider_key)
        self._expunge_record(session, vm)

    def prepare(self, session: Session, net: Network) -> bool:
        """A VM is starting on the network: its stopped routers are started (CloudStack's prepare does, and
        `networks.nic_unprepared` looks for any); True if one was."""
        stopped = session.scalars(select(VirtualMachine).join(
            RouterNetwork, RouterNetwork.router_id == VirtualMachine.id).where(
            RouterNetwork.network_id == net.id, VirtualMachine.removed.is_(None),
            VirtualMachine.state == "Stopped").order_by(VirtualMachine.id)).all()
        for vm in stopped:
            self.start(session, vm)
        return bool(stopped)

    def apply(self, session: Session, net: Network) -> None:
        if not zone_routed(session, net.zone_id):  # first: a simulated zone's deploys end here, with one read
            return
        found = router_of(session, net)
        if found is None or found[0].state != "Running":
            return
        vm, ref = ensure_router(session, net, found[1].provider_key)
        self._converge(session, net, ref, full=False)

    # -- router operations (commands)
    def start(self, session: Session, vm: VirtualMachine) -> None:
        net = network_of_router(session, vm)
        if net is None:
            raise ParamError(f"Router {vm.name} has no network")
        ref = session.get_one(RouterNetwork, vm.id)
        if zone_routed(session, net.zone_id):
            self._converge(session, net, ref, full=True)
        _set_state(session, vm, "Running")

    def stop(self, session: Session, vm: VirtualMachine) -> None:
        ref = session.get_one(RouterNetwork, vm.id)
        net = session.get_one(Network, ref.network_id)
        if zone_routed(session, net.zone_id):
            self._destroy(ref.provider_key)
        _set_state(session, vm, "Stopped")

    def reboot(self, session: Session, vm: VirtualMachine) -> None:
        ref = session.get_one(RouterNetwork, vm.id)
        net = session.get_one(Network, ref.network_id)
        if vm.state != "Running":
            raise ParamError(f"Unable to reboot router {vm.name} in state {vm.state}")
        if zone_routed(session, net.zone_id):
            spec = self._spec(session, net, ref)
            try:
                self.provider.reboot(spec)
            except ProviderError as e:
                raise logged(ResourceUnavailable, f"Router {vm.name} failed to reboot", e) from e

    def destroy(self, session: Session, vm: VirtualMachine) -> Network | None:
        ref = session.get(RouterNetwork, vm.id)
        net = session.get(Network, ref.network_id) if ref else None
        if ref is not None and net is not None and zone_routed(session, net.zone_id):
            self._destroy(ref.provider_key)
        self._expunge_record(session, vm)
        if net is not None and net.state == "Implemented":
            fsm.transition(session, net, "DestroyNetwork")  # Implemented -> Shutdown: restartNetwork brings it back
            net.restart_required = True
        session.flush()
        return net

    def restore(self, session: Session) -> dict[str, Any]:
        """Server start: re-implement every Running router of a routed zone from the records."""
        out: dict[str, Any] = {}
        rows = session.execute(select(VirtualMachine, RouterNetwork).join(
            RouterNetwork, RouterNetwork.router_id == VirtualMachine.id).where(
            VirtualMachine.removed.is_(None), VirtualMachine.state == "Running")).all()
        for vm, ref in rows:
            net = session.get(Network, ref.network_id)
            if net is None or net.removed is not None or not zone_routed(session, net.zone_id):
                continue
            try:
                self._converge(session, net, ref, full=True)
                out[vm.name] = "ok"
            except Exception as e:  # noqa: BLE001 - one broken router must not stop the server
                log.warning("router %s not restored: %s", vm.name, e)
                out[vm.name] = e
        return out

    # -- plumbing
    def _spec(self, session: Session, net: Network, ref: RouterNetwork) -> RouterSpec:
        try:
            return build_spec(session, net, ref.provider_key).validate()
        except SpecError as e:
            raise ParamError(f"Invalid router configuration for network {net.name}: {e}") from e

    def _converge(self, session: Session, net: Network, ref: RouterNetwork, *, full: bool) -> None:
        spec = self._spec(session, net, ref)
        try:
            if spec.public is not None:
                ips = list(session.scalars(select(PublicIpAddress).where(
                    PublicIpAddress.network_id == net.id, PublicIpAddress.removed.is_(None))).all())
                rng = session.get_one(VlanIpRange, ips[0].vlan_id)
                nethost.ensure_public_bridge(spec.public.bridge, f"{rng.gateway}/{spec.public.prefix}")
            nethost.ensure_bridge(spec.guest.bridge)
            self.provider.implement(spec)
        except (ProviderError, OSError, SpecError) as e:
            raise logged(ResourceUnavailable, f"Unable to implement the virtual router of network {net.name}",
                         e) from e

    def _destroy(self, key: str) -> None:
        try:
            self.provider.destroy(key)
        except (ProviderError, OSError) as e:
            raise logged(ResourceUnavailable, f"Unable to destroy virtual router {key}", e) from e

    def _expunge_record(self, session: Session, vm: VirtualMachine) -> None:
        fsm.force_state(session, vm, "Expunging")
        vm.removed = utcnow()
        session.flush()


# ------------------------------------------------------------------------------------------------ hooks

def current() -> RouterImplementer | None:
    impl = netsvc.current_implementer()
    return impl if isinstance(impl, RouterImplementer) else None


def network_changed(session: Session, network: Network | int | None) -> None:
    """Re-apply the router of ``network`` after a change in its records (no-op without a real router)."""
    if network is None:
        return
    impl = netsvc.current_implementer()
    if impl is None:
        return
    net = network if isinstance(network, Network) else session.get(Network, network)
    if net is None or net.removed is not None or net.state != "Implemented":
        return
    session.flush()
    impl.apply(session, net)


def _vpc_call(session: Session, name: str, *args: Any, **kw: Any) -> None:
    """The VPC seams below are answered by an implementer that knows VPCs (``vpc_router.VpcRouterImplementer``);
    without one (records only) they do nothing."""
    fn = getattr(netsvc.current_implementer(), name, None)
    if fn is not None:
        session.flush()
        fn(session, *args, **kw)


def vpc_started(session: Session, vpc_id: int) -> None:
    """A VPC was created or started: its router comes up (the public leg, then a leg per implemented tier)."""
    _vpc_call(session, "start_vpc", vpc_id)


def vpc_changed(session: Session, vpc_id: int | None) -> None:
    """Re-apply the VPC's router after a change in its records (IPs, rules, ACLs, gateways, routes, VPN)."""
    if vpc_id is not None:
        _vpc_call(session, "apply_vpc", vpc_id)


def vpc_restart(session: Session, vpc_id: int, *, cleanup: bool) -> None:
    _vpc_call(session, "restart_vpc", vpc_id, cleanup=cleanup)


def vpc_destroyed(session: Session, vpc_id: int) -> None:
    _vpc_call(session, "destroy_vpc", vpc_id)


def install(runtime: Any, implementer: type[RouterImplementer] = RouterImplementer) -> RouterImplementer:
    """Server start: installs the implementer (state under <state_dir>/network) and restores running routers."""
    impl = implementer(Path(runtime.settings.state_dir) / "network")
    netsvc.set_implementer(impl)
    runtime.extras["routers"] = impl
    try:
        with runtime.db.session() as s:
            impl.restore(s)
            s.commit()
    except Exception as e:  # noqa: BLE001 - never keep the server from starting
        log.warning("restoring routers failed: %s", e)
    try:  # security groups on the host bridges (after a host reboot the running VMs' chains are gone too)
        from management.services.network import security_groups

        with runtime.db.session(write=False) as s:
            security_groups.enforce_all(runtime, s)
    except Exception as e:  # noqa: BLE001 - never keep the server from starting
        log.warning("restoring security groups failed: %s", e)
    return impl


def _lb_pem(session: Session, rule_id: int) -> str | None:
    """Certificate, chain and key of an ssl load balancer rule (assignCertToLoadBalancer), as one PEM."""
    from management.models.certs import LoadBalancerCertMap, SslCert

    cert = session.scalar(select(SslCert).join(LoadBalancerCertMap, LoadBalancerCertMap.certificate_id == SslCert.id)
                          .where(LoadBalancerCertMap.load_balancer_id == rule_id))
    if cert is None:
        return None
    parts = [cert.certificate.strip(), (cert.chain or "").strip(), cert.private_key.strip()]
    return "\n".join(p for p in parts if p) + "\n"
