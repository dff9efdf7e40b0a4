"""Guest networks: create, list, update, delete, restart (records; the virtual router comes with the networking
issue), and listNics."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network import network_modes
from management.api.cloudstack.commands.network.network_offerings import services_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ListParams, Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_compute import NicResp, NicSecondaryIpRefResp
from management.api.cloudstack.schemas_network import NetworkResp
from management.api.cloudstack.tagview import tag_views
from management.db.subtree import in_subtree
from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import PhysicalNetwork, Zone
from management.models.network import Network, Nic
from management.models.offerings import NetworkOffering
from management.models.vpc import NetworkAcl, Vpc
from management.services import access, limits, tags
from management.services.compute import nics as nics_service
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name, tags_filter
from management.services.network import ipam
from management.services.network import network_offerings as offsvc
from management.services.network import networks as svc
from management.services.network import vpc as vpcsvc

tags.register("Network", "Network")


def vpc_fields(s: Any, n: Network) -> dict[str, Any]:
    """A tier's VPC and ACL list (nothing for other networks)."""
    if n.vpc_id is None:
        return {}
    vpc = s.get(Vpc, n.vpc_id)
    acl = s.get(NetworkAcl, n.network_acl_id) if n.network_acl_id else None
    return {"vpcid": vpc.uuid if vpc else None, "vpcname": vpc.name if vpc else None,
            "aclid": acl.uuid if acl else None, "aclname": acl.name if acl else None}


def network_resp(ctx: CallContext, n: Network, tag_rows: list | None = None) -> NetworkResp:
    s = ctx.session
    zone = s.get(Zone, n.zone_id)
    off = s.get_one(NetworkOffering, n.network_offering_id)
    acct = s.get(Account, n.account_id)
    dom = s.get(Domain, n.domain_id)
    pn = s.get(PhysicalNetwork, n.physical_network_id) if n.physical_network_id else None
    netmask = str(ipaddress.IPv4Network(n.cidr).netmask) if n.cidr else None
    root = ctx.caller.is_root_admin
    return NetworkResp(
        id=n.uuid, name=n.name, displaytext=n.display_text, broadcastdomaintype=n.broadcast_domain_type,
        traffictype=n.traffic_type, gateway=n.gateway, netmask=netmask, cidr=n.cidr, zoneid=zone.uuid if zone else "",
        zonename=zone.name if zone else None, networkofferingid=off.uuid, networkofferingname=off.name,
        networkofferingdisplaytext=off.display_text, networkofferingconservemode=off.conserve_mode,
        networkofferingavailability=off.availability, issystem=False, state=n.state, related=n.uuid,
        broadcasturi=n.broadcast_uri if root else None, dns1=n.dns1, dns2=n.dns2, type=n.guest_type,
        vlan=ipam.vlan_of(n.broadcast_uri) if root else None, acltype=n.acl_type,
        subdomainaccess=True if n.acl_type == "Domain" else None,
        account=acct.name if acct and n.acl_type == "Account" else None,
        domainid=dom.uuid if dom else None, domain=dom.name if dom else None, service=services_resp(off),
        networkdomain=n.network_domain, physicalnetworkid=pn.uuid if pn else None,
        restartrequired=n.restart_required, specifyipranges=n.specify_ip_ranges,
        canusefordeploy=n.state in svc.LIVE_STATES and n.removed is None, ispersistent=off.is_persistent,
        isdefault=n.is_default, egressdefaultpolicy=off.egress_default_policy, created=n.created,
        **vpc_fields(s, n),
        tags=tag_views(ctx.session, tag_rows), **network_modes.resp_fields(ctx, n, off),
    )


# ------------------------------------------------------------------------------------------------ create

class CreateNetworkParams(network_modes.CreateNetworkModeParams):
    name: str = Field(description="the name of the network")
    displaytext: str | None = Field(None, description="the display text of the network")
    networkofferingid: Annotated[str, Ref("NetworkOffering", "read")] = Field(description="the network offering ID")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the zone ID for the network")
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(
        None, description="the physical network ID the network belongs to")
    gateway: str | None = Field(None, description="the gateway of the network. Required for shared networks and "
                                "isolated networks when it belongs to VPC")
    netmask: str | None = Field(None, description="the netmask of the network. Required for shared networks and "
                                "isolated networks when it belongs to VPC")
    startip: str | None = Field(None, description="the beginning IP address in the network IP range")
    endip: str | None = Field(None, description="the ending IP address in the network IP range. If not specified, "
                              "will be defaulted to startIP")
    vlan: str | None = Field(None, description="the ID or VID of the network")
    networkdomain: str | None = Field(None, description="network domain")
    acltype: str | None = Field(None, description="Access control type; supported values are account and domain. "
                                "In 3.0 all shared networks should have aclType=Domain, and all isolated networks "
                                "- Account. Account means that only the account owner can use the network, domain "
                                "- all accounts in the domain can use the network")
    subdomainaccess: bool | None = Field(None, description="Defines whether to allow subdomains to use networks "
                                         "dedicated to their parent domain(s). Should be used with aclType=Domain, "
                                         "defaulted to allow.subdomain.network.access global config if not "
                                         "specified")
    account: str | None = Field(None, description="account that will own the network. Account should be under "
                                "the selected domain")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain ID of the account "
                                                                   "owning a network")
    projectid: Uuid | None = Field(None, description="an optional project for the network")
    vpcid: Annotated[str | None, Ref("Vpc")] = Field(None, description="the VPC network belongs to")
    aclid: Annotated[str | None, Ref("NetworkACL", "read")] = Field(None, description="Network ACL ID associated "
                                                                    "for the network")
    displaynetwork: bool | None = Field(None, description="an optional field, whether to the display the network "
                                        "to the end user or not.")
    isolatedpvlan: str | None = Field(None, description="the isolated private VLAN for this network")
    bypassvlanoverlapcheck: bool | None = Field(None, description="when true bypasses VLAN id/range overlap check "
                                                "during network creation for shared and L2 networks")
    externalid: str | None = Field(None, description="ID of the network in an external system.")


@api_command("createNetwork", params=CreateNetworkParams, result_key="network", response=NetworkResp,
             event="NETWORK.CREATE", entity="Network", description="Creates a network")
def create_network(ctx: CallContext, p: CreateNetworkParams) -> NetworkResp:
    offering: NetworkOffering = ctx.refs["networkofferingid"]
    zone: Zone = ctx.refs["zoneid"]
    if p.vpcid:
        vpc: Vpc = ctx.refs["vpcid"]
        name = p.name or p.displaytext
        if not name:
            raise ParamError("Unable to execute API command createnetwork due to missing parameter name")
        owner = ctx.session.get_one(Account, vpc.account_id)
        if p.account is not None or p.domainid is not None:
            owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
        tier = vpcsvc.create_tier(ctx.session, ctx.caller, vpc, owner, zone, offering, name=name,
                                  display_text=p.displaytext, gateway=p.gateway, netmask=p.netmask,
                                  acl=ctx.refs.get("aclid"), physical_network=ctx.refs.get("physicalnetworkid"),
                                  vlan=p.vlan)
        return network_resp(ctx, tier)
    if p.aclid:
        raise ParamError("aclid can only be specified for a network of a VPC")
    acl = (p.acltype or ("Domain" if offering.guest_type == "Shared" else "Account")).lower()
    owner_domain: Domain | None = None
    if acl == "domain":
        if p.account:
            raise ParamError("Account must not be specified for a network with acltype Domain")
        if not ctx.caller.is_admin:
            raise ParamError("Only admins can create networks with acltype Domain")
        owner_domain = ctx.refs.get("domainid") or ctx.session.get_one(Domain, ctx.caller.domain_id)
        if not access.domain_in_scope(ctx.caller, owner_domain.path):
            raise ParamError("Unable to create a network in a domain the caller does not administer")
        owner = ctx.session.get_one(Account, 1)  # domain-wide networks belong to SYSTEM, as in CloudStack
    else:
        owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
        limits.check(ctx.session, owner, {"network": 1})
    name = p.name or p.displaytext
    if not name:
        raise ParamError("Unable to execute API command createnetwork due to missing parameter name")
    gateway, netmask, subnet = network_modes.before_create(ctx, p, offering, zone, owner, p.gateway, p.netmask)
    net = svc.create_network(
        ctx.session, ctx.caller, owner, zone, offering, name=name, display_text=p.displaytext, gateway=gateway,
        netmask=netmask, startip=p.startip, endip=p.endip, vlan=p.vlan,
        physical_network=ctx.refs.get("physicalnetworkid"), network_domain=p.networkdomain, acl_type=p.acltype)
    network_modes.after_create(ctx, p, net, offering, subnet)
    if owner_domain is not None:
        net.domain_id = owner_domain.id
        ctx.session.flush()
    return network_resp(ctx, net)


# ------------------------------------------------------------------------------------------------ list

class ListNetworksParams(TaggedListParams, network_modes.ListNetworkModeParams):
    id: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list networks by ID")
    name: str | None = Field(None, description="list networks by name")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the zone ID of the network")
    type: str | None = Field(None, description="the type of the network. Supported values are: isolated, l2, "
                             "shared and all")
    guestiptype: str | None = Field(None, description="the type of the network. Supported values are: isolated, l2, "
                                    "shared and all")
    isdefault: bool | None = Field(None, description="true if network is default, false otherwise")
    issystem: bool | None = Field(None, description="true if network is system, false otherwise")
    traffictype: str | None = Field(None, description="type of the traffic")
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(
        None, description="list networks by physical network id")
    networkofferingid: Annotated[str | None, Ref("NetworkOffering", "read")] = Field(
        None, description="list networks by network offering ID")
    canusefordeploy: bool | None = Field(None, description="list networks available for VM deployment")
    acltype: str | None = Field(None, description="list networks by ACL (access control list) type. Supported "
                                "values are account and domain")
    restartrequired: bool | None = Field(None, description="list networks by restartRequired")
    specifyipranges: bool | None = Field(None, description="true if need to list only networks which support "
                                         "specifying IP ranges")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="List networks by VPC")
    forvpc: bool | None = Field(None, description="the network belongs to VPC")
    supportedservices: list[str] | None = Field(None, description="list networks supporting certain services")
    displaynetwork: bool | None = Field(None, description="list resources by display flag; only ROOT admin is "
                                        "eligible to pass this parameter")
    showicon: bool = Field(False, description="flag to display the resource icon for networks")


@api_command("listNetworks", params=ListNetworksParams, result_key="network", response=NetworkResp,
             description="Lists all available networks.")
def list_networks(ctx: CallContext, p: ListNetworksParams) -> ListResult:
    s = ctx.session
    stmt = select(Network).where(Network.removed.is_(None))
    if p.account is not None or p.domainid is not None or p.projectid is not None:
        stmt = access.owned_filter(s, stmt, Network, ctx.caller, account=p.account, domainid=p.domainid,
                                   projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    elif not (p.listall and ctx.caller.is_admin):
        stmt = stmt.where(svc.visible_condition(s, ctx.caller))
    elif ctx.caller.is_domain_admin:
        sub = select(Domain.id).where(in_subtree(Domain.path, ctx.caller.domain_path))
        stmt = stmt.where(Network.domain_id.in_(sub) | svc.visible_condition(s, ctx.caller))
    if p.issystem:
        return ListResult([], 0)  # system networks (public/management/control) are not modelled as rows
    if p.id:
        stmt = stmt.where(Network.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(Network.name, p.name))
    if p.zoneid:
        stmt = stmt.where(Network.zone_id == ctx.refs["zoneid"].id)
    gtype = p.type or p.guestiptype
    if gtype and gtype.lower() != "all":
        stmt = stmt.where(Network.guest_type.ilike(gtype))
    if p.traffictype:
        stmt = stmt.where(Network.traffic_type.ilike(p.traffictype))
    if p.physicalnetworkid:
        stmt = stmt.where(Network.physical_network_id == ctx.refs["physicalnetworkid"].id)
    if p.networkofferingid:
        stmt = stmt.where(Network.network_offering_id == ctx.refs["networkofferingid"].id)
    if p.isdefault is not None:
        stmt = stmt.where(Network.is_default.is_(p.isdefault))
    if p.canusefordeploy is not None:
        cond = Network.state.in_(svc.LIVE_STATES)
        stmt = stmt.where(cond if p.canusefordeploy else ~cond)
    if p.acltype:
        stmt = stmt.where(Network.acl_type.ilike(p.acltype))
    if p.restartrequired is not None:
        stmt = stmt.where(Network.restart_required.is_(p.restartrequired))
    if p.specifyipranges is not None:
        stmt = stmt.where(Network.specify_ip_ranges.is_(p.specifyipranges))
    if p.vpcid:
        stmt = stmt.where(Network.vpc_id == ctx.refs["vpcid"].id)
    if p.forvpc is not None:
        stmt = stmt.where(Network.vpc_id.is_not(None) if p.forvpc else Network.vpc_id.is_(None))
    if p.supportedservices:
        want = {x.lower() for x in p.supportedservices}
        ok = [o.id for o in s.scalars(select(NetworkOffering))
              if want <= {k.lower() for k in offsvc.services_of(o)}]
        stmt = stmt.where(Network.network_offering_id.in_(ok))
    stmt = network_modes.list_filter(ctx, p, stmt)
    stmt = keyword_filter(stmt, p.keyword, Network.name, Network.display_text)
    stmt = tags_filter(stmt, p.tags, "Network", Network.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, Network.id)
    if p.retrieveonlyresourcecount:
        return ListResult([], count)
    by_uuid = tags.tags_of(s, "Network", [n.uuid for n in rows])
    return ListResult([network_resp(ctx, n, by_uuid.get(n.uuid)) for n in rows], count)


# ------------------------------------------------------------------------------------------------ update/delete

class UpdateNetworkParams(network_modes.UpdateNetworkModeParams):
    id: Annotated[str, Ref("Network")] = Field(description="the ID of the network")
    name: str | None = Field(None, description="the new name for the network")
    displaytext: str | None = Field(None, description="the new display text for the network")
    networkdomain: str | None = Field(None, description="network domain")
    networkofferingid: Annotated[str | None, Ref("NetworkOffering", "read")] = Field(
        None, description="network offering ID")
    guestvmcidr: str | None = Field(None, description="CIDR for guest VMs, CloudStack allocates IPs to guest VMs "
                                    "only from this CIDR")
    changecidr: bool = Field(False, description="Force update even if CIDR type is different")
    displaynetwork: bool | None = Field(None, description="an optional field, whether to the display the network to "
                                        "the end user or not.")
    updateinsequence: bool | None = Field(None, description="if true, we will update the routers one after the "
                                          "other. applicable only for redundant router based networks using virtual "
                                          "router as provider")
    forced: bool | None = Field(None, description="Setting this to true will cause a forced network update,")


@api_command("updateNetwork", params=UpdateNetworkParams, is_async=True, result_key="network",
             response=NetworkResp, event="NETWORK.UPDATE", entity="Network",
             description="Updates a network")
def update_network(ctx: CallContext, p: UpdateNetworkParams) -> NetworkResp:
    net: Network = ctx.refs["id"]
    if p.name is not None:
        net.name = p.name
    if p.displaytext is not None:
        net.display_text = p.displaytext
    if p.networkdomain is not None:
        net.network_domain = p.networkdomain
        net.restart_required = net.state == "Implemented"
    if p.networkofferingid:
        off: NetworkOffering = ctx.refs["networkofferingid"]
        cur = ctx.session.get_one(NetworkOffering, net.network_offering_id)
        if off.guest_type != cur.guest_type or off.for_vpc != cur.for_vpc or off.state != "Enabled":
            raise ParamError(f"Network offering {off.name} can't be used for network {net.name}: guest type, VPC "
                             "support and state must match")
        net.network_offering_id = off.id
        net.restart_required = net.state == "Implemented"
    if p.guestvmcidr is not None:
        if net.guest_type != "Isolated" or not net.cidr:
            raise ParamError("guestvmcidr can only be changed on isolated networks")
        new = ipam.parse_cidr(p.guestvmcidr)
        if not new.subnet_of(ipaddress.IPv4Network(net.cidr)):  # type: ignore[arg-type]
            raise ParamError(f"guestvmcidr {new} must be within the network CIDR {net.cidr}")
        for ip in svc.used_ips(ctx.session, net):
            if ipaddress.IPv4Address(ip) not in new:
                raise ParamError(f"guestvmcidr {new} does not contain the NIC address {ip} in use")
        net.cidr = str(new)
    network_modes.apply_update(ctx, p, net)
    ctx.session.flush()
    return network_resp(ctx, net)


class DeleteNetworkParams(Params):
    id: Annotated[str, Ref("Network")] = Field(description="the ID of the network")
    forced: bool = Field(False, description="Force delete a network. Network will be marked as 'Destroy' even when "
                         "commands to shutdown and cleanup to the backend fails.")


@api_command("deleteNetwork", params=DeleteNetworkParams, is_async=True, event="NETWORK.DELETE", entity="Network",
             description="Deletes a network")
def delete_network(ctx: CallContext, p: DeleteNetworkParams) -> Success:
    svc.delete_network(ctx.session, ctx.refs["id"], p.forced)
    network_modes.on_delete(ctx, ctx.refs["id"])
    return Success()


class RestartNetworkParams(Params):
    id: Annotated[str, Ref("Network")] = Field(description="The ID of the network to restart.")
    cleanup: bool = Field(False, description="If cleanup old network elements")
    makeredundant: bool = Field(False, description="Turn the network into a network with redundant routers.")
    livepatch: bool = Field(False, description="Live patches the router software before restarting it.")


@api_command("restartNetwork", params=RestartNetworkParams, is_async=True, event="NETWORK.RESTART",
             entity="Network", description="Restarts the network; includes 1) restarting network elements - virtual "
             "routers, DHCP servers 2) reapplying all public IPs 3) reapplying loadBalancing/portForwarding rules")
def restart_network(ctx: CallContext, p: RestartNetworkParams) -> Success:
    svc.restart(ctx.session, ctx.refs["id"], p.cleanup)
    return Success()


# ------------------------------------------------------------------------------------------------ NICs

class ListNicsParams(ListParams):
    virtualmachineid: Annotated[str, Ref("VirtualMachine", "read")] = Field(description="the ID of the vm")
    nicid: Uuid | None = Field(None, description="the ID of the nic to to list IPs")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list nic of the specific vm "
                                                                     "that is associated with the network")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


def nic_resp(n: Nic, net: Network | None, vm: VirtualMachine,
             secondary: list[NicSecondaryIpRefResp] | None = None) -> NicResp:
    return NicResp(id=n.uuid, networkid=net.uuid if net else None, networkname=net.name if net else None,
                   ipaddress=n.ip4_address, gateway=n.gateway, netmask=n.netmask, macaddress=n.mac_address,
                   isdefault=n.default_nic, traffictype=n.traffic_type, type=net.guest_type if net else None,
                   broadcasturi=n.broadcast_uri, isolationuri=n.isolation_uri, deviceid=str(n.device_id),
                   virtualmachineid=vm.uuid, secondaryip=secondary or None)


@api_command("listNics", params=ListNicsParams, result_key="nic", response=NicResp,
             description="list the vm nics  IP to NIC")
def list_nics(ctx: CallContext, p: ListNicsParams) -> ListResult:
    vm: VirtualMachine = ctx.refs["virtualmachineid"]
    stmt = select(Nic).where(Nic.instance_id == vm.id, Nic.removed.is_(None))
    if p.nicid:
        stmt = stmt.where(Nic.uuid == p.nicid)
    if p.networkid:
        stmt = stmt.where(Nic.network_id == ctx.refs["networkid"].id)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Nic.device_id)
    nets = svc.networks_of(ctx.session, {n.network_id for n in rows})
    sec = nics_service.secondary_ips(ctx.session, [n.id for n in rows])
    return ListResult([nic_resp(n, nets.get(n.network_id), vm,
                                [NicSecondaryIpRefResp(id=x.uuid, ipaddress=x.ip4_address) for x in sec.get(n.id, [])])
                       for n in rows], count)
