"""Virtual machines: deploy, start, stop, reboot, destroy, recover, expunge, update, change/scale, restore, list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, cast

from pydantic import Field
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import aliased

from management.api.cloudstack.commands.compute import userdata as userdata_cmds
from management.api.cloudstack.envelope import JsonReady, ListResult, Success, cs_date, plain
from management.api.cloudstack.registry import (
    ADMIN,
    Long,
    MapParam,
    ParamInfo,
    Params,
    Ref,
    TaggedListParams,
    Uuid,
    api_command,
    map_pairs,
)
from management.api.cloudstack.schemas_compute import (
    VirtualMachineResp,
    VmUserDataResp,
)
from management.api.cloudstack.tagview import tag_views
from management.db.prepared import prepared
from management.errors import InvalidStateTransition, ParamError, PermissionDenied
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain, User
from management.models.infra import Host, PublicIpAddress, Zone
from management.models.network import Network, Nic
from management.models.offerings import DiskOffering, OsType, ServiceOffering
from management.models.storage import Template, Volume
from management.models.userdata import UserData
from management.services import access, limits, tags
from management.services.compute import affinity
from management.services.compute import groups as groups_of
from management.services.compute import nics as nics_service
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, tags_filter
from management.services.network import networks as _networks_service  # noqa: F401  (registers "Network")
from management.services.network import security_groups as sg_service

access.register_entity("VirtualMachine", VirtualMachine, "owned")
tags.register("UserVm", "VirtualMachine")

_ENTITY = "VirtualMachine"


# ------------------------------------------------------------------------------------------------ responses

# What a VM response reads of vm_instance. The list path selects these columns as plain rows (attribute access
# as on the ORM object): a page of 500 VMs is then no ORM identity-map work.
VM_RESPONSE_COLUMNS = (
    VirtualMachine.id, VirtualMachine.uuid, VirtualMachine.name, VirtualMachine.display_name, VirtualMachine.state,
    VirtualMachine.account_id, VirtualMachine.domain_id, VirtualMachine.user_id, VirtualMachine.zone_id,
    VirtualMachine.host_id, VirtualMachine.template_id, VirtualMachine.iso_id, VirtualMachine.service_offering_id,
    VirtualMachine.os_type_id, VirtualMachine.hypervisor_type, VirtualMachine.cpu, VirtualMachine.speed,
    VirtualMachine.ram_size, VirtualMachine.ha_enabled, VirtualMachine.user_data_id,
    VirtualMachine.user_data_details, VirtualMachine.keypairs, VirtualMachine.group_name,
    VirtualMachine.details_json, VirtualMachine.instance_name, VirtualMachine.created,
)
_NIC_COLUMNS = (Nic.id, Nic.uuid, Nic.instance_id, Nic.ip4_address, Nic.gateway, Nic.netmask, Nic.mac_address,
                Nic.default_nic, Nic.traffic_type, Nic.broadcast_uri, Nic.isolation_uri, Nic.device_id,
                Network.uuid.label("network_uuid"), Network.name.label("network_name"),
                Network.guest_type.label("network_type"))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


_NO_TEMPLATE = {"passwordenabled": False}


def _date(value: datetime | None) -> str | None:
    return cs_date(value) if value is not None else None


def _related_stmt() -> Any:
    """What a VM response shows of the rows a VM refers to by id (one each), as one statement of outer joins:
    CloudStack's user_vm_view in a query. A missing row (an unset id) gives nulls, which the response drops."""
    tmpl, iso = aliased(Template), aliased(Template)
    return (select(VirtualMachine.id, Zone.uuid, Zone.name, Host.uuid, Host.name,
                   tmpl.uuid, tmpl.name, tmpl.display_text, tmpl.password_enabled, iso.uuid, iso.name,
                   iso.display_text, ServiceOffering.uuid, ServiceOffering.name, Account.name, Domain.uuid,
                   Domain.name, User.uuid, User.username, OsType.uuid, OsType.display_name, UserData.uuid,
                   UserData.name)
            .select_from(VirtualMachine)
            .outerjoin(Zone, Zone.id == VirtualMachine.zone_id)
            .outerjoin(Host, Host.id == VirtualMachine.host_id)
            .outerjoin(tmpl, tmpl.id == VirtualMachine.template_id)
            .outerjoin(iso, iso.id == VirtualMachine.iso_id)
            .outerjoin(ServiceOffering, ServiceOffering.id == VirtualMachine.service_offering_id)
            .outerjoin(Account, Account.id == VirtualMachine.account_id)
            .outerjoin(Domain, Domain.id == VirtualMachine.domain_id)
            .outerjoin(User, User.id == VirtualMachine.user_id)
            .outerjoin(OsType, OsType.id == VirtualMachine.os_type_id)
            .outerjoin(UserData, UserData.id == VirtualMachine.user_data_id)
            .where(VirtualMachine.id.in_(bindparam("ids", expanding=True))))


def _related(ctx: CallContext, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per VM id, the response fields from its zone, host, template, ISO, offering, owner, OS type and user data
    (nulls dropped), from one statement whatever the page size."""
    admin = ctx.caller.is_root_admin
    out: dict[int, dict[str, Any]] = {}
    for (vm_id, zone_uuid, zone_name, host_uuid, host_name, t_uuid, t_name, t_text, t_password, iso_uuid, iso_name,
         iso_text, so_uuid, so_name, account, domain_uuid, domain_name, user_uuid, user_name, os_uuid, os_name,
         ud_uuid, ud_name) in ctx.session.execute(prepared("vm-view-related", _related_stmt), {"ids": ids}):
        d: dict[str, Any] = {"account": account, "domainid": domain_uuid, "domain": domain_name,
                             "zoneid": zone_uuid, "zonename": zone_name}
        if host_uuid is not None:
            if admin:
                d["hostid"], d["hostname"] = host_uuid, host_name
            d["hostcontrolstate"] = "Enabled"
        if t_uuid is not None:
            d.update(templateid=t_uuid, templatename=t_name, templatedisplaytext=t_text,
                     passwordenabled=bool(t_password))
        else:
            d.update(_NO_TEMPLATE)
        d.update(serviceofferingid=so_uuid, serviceofferingname=so_name)
        if os_uuid is not None:
            d.update(guestosid=os_uuid, ostypeid=os_uuid, osdisplayname=os_name)
        d.update(userdataid=ud_uuid, userdataname=ud_name, isoid=iso_uuid, isoname=iso_name,
                 isodisplaytext=iso_text, userid=user_uuid, username=user_name)
        out[vm_id] = _drop_none(d)
    return out


def vm_dicts(ctx: CallContext, vms: Sequence[Any], *, details: set[str] | None = None,
             password: str | None = None) -> JsonReady:
    """VM responses in wire form (VirtualMachineResp's fields, nulls dropped, dates formatted), from ORM objects or
    rows of VM_RESPONSE_COLUMNS. Batched: one query for the rows each VM refers to by id and one per list a VM
    has (NICs, disks, groups, tags...), whatever the page size. tests/api/test_vm_list_view.py keeps them equal
    to what VirtualMachineResp makes of them."""
    s = ctx.session
    if not vms:
        return JsonReady()
    ids = [v.id for v in vms]
    related = _related(ctx, ids)
    nics: dict[int, list[Any]] = {}
    for n in s.execute(prepared("vm-view-nics", lambda: select(*_NIC_COLUMNS).outerjoin(
            Network, Network.id == Nic.network_id).where(
            Nic.instance_id.in_(bindparam("ids", expanding=True)), Nic.removed.is_(None)).order_by(Nic.device_id)),
            {"ids": ids}):
        nics.setdefault(n.instance_id, []).append(n)
    secondary = nics_service.secondary_ips(s, [n.id for ns in nics.values() for n in ns])
    disk_offering: dict[int | None, tuple[str | None, str | None]] = {}
    for vol_vm, offering_uuid, offering_name in s.execute(prepared("vm-view-data-disks", lambda: (
            select(Volume.instance_id, DiskOffering.uuid, DiskOffering.name)
            .outerjoin(DiskOffering, DiskOffering.id == Volume.disk_offering_id).where(
                Volume.instance_id.in_(bindparam("ids", expanding=True)), Volume.volume_type == "DATADISK",
                Volume.removed.is_(None), Volume.disk_offering_id.is_not(None)).order_by(Volume.id))), {"ids": ids}):
        disk_offering.setdefault(vol_vm, (offering_uuid, offering_name))
    # CloudStack's publicip/publicipid: the VM's static NAT address (the first, should it have several)
    static_nat: dict[int, tuple[str, str]] = {}
    for vm_id, ip_uuid, ip_address in s.execute(prepared("vm-view-static-nat", lambda: (
            select(PublicIpAddress.vm_id, PublicIpAddress.uuid, PublicIpAddress.public_ip_address)
            .where(PublicIpAddress.vm_id.in_(bindparam("ids", expanding=True)),
                   PublicIpAddress.one_to_one_nat.is_(True), PublicIpAddress.removed.is_(None))
            .order_by(PublicIpAddress.id))), {"ids": ids}):
        if vm_id is not None:
            static_nat.setdefault(vm_id, (ip_uuid, ip_address))
    by_tags = tags.tags_of(s, "UserVm", [v.uuid for v in vms])
    sgs = sg_service.groups_of(s, ids)
    ags = affinity.groups_of(s, ids)
    group_ids = groups_of.ids_by_name(s, vms)
    with_details = details is None or "all" in details or "min" not in details
    with_userdata = details is not None and ("all" in details or "userdata" in details)
    user_data: dict[int, str | None] = {vid: ud for vid, ud in s.execute(
        select(VirtualMachine.id, VirtualMachine.user_data).where(
            VirtualMachine.id.in_(ids), VirtualMachine.user_data.is_not(None)))} if with_userdata else {}
    admin = ctx.caller.is_root_admin
    no_network = {"type": "Isolated"}
    fixed = _drop_none({"rootdeviceid": 0, "rootdevicetype": "ROOT", "isdynamicallyscalable": False,
                        "password": password})
    out = JsonReady()
    for v in vms:
        nic_list = []
        for n in nics.get(v.id, []):
            nic = _drop_none({
                "id": n.uuid, "ipaddress": n.ip4_address, "gateway": n.gateway, "netmask": n.netmask,
                "macaddress": n.mac_address, "isdefault": bool(n.default_nic), "traffictype": n.traffic_type,
                "broadcasturi": n.broadcast_uri, "isolationuri": n.isolation_uri, "deviceid": str(n.device_id),
                "virtualmachineid": v.uuid})
            if n.network_uuid is not None:
                nic.update(_drop_none({"networkid": n.network_uuid, "networkname": n.network_name,
                                       "type": n.network_type}))
            else:
                nic.update(no_network)
            sec = secondary.get(n.id)
            if sec:
                nic["secondaryip"] = [{"id": x.uuid, "ipaddress": x.ip4_address} for x in sec]
            nic_list.append(nic)
        kps = vm_service.keypairs_of(s, v)
        d = vm_service.as_dict(v.details_json) if with_details else None
        nat = static_nat.get(v.id)
        disk = disk_offering.get(v.id)
        vm = _drop_none({
            "id": v.uuid, "name": v.name, "displayname": v.display_name or v.name, "state": v.state,
            "created": _date(v.created), "haenable": bool(v.ha_enabled), "group": v.group_name,
            "groupid": group_ids.get((v.account_id, v.group_name)) if v.group_name else None,
            "cpunumber": v.cpu, "cpuspeed": v.speed, "memory": v.ram_size, "hypervisor": v.hypervisor_type,
            "instancename": v.instance_name if admin else None,
            "keypairs": ",".join(kps) if kps else None, "keypair": kps[0] if kps else None,
            "userdata": user_data.get(v.id), "userdatadetails": v.user_data_details,
            "details": d or None, "publicip": nat[1] if nat else None, "publicipid": nat[0] if nat else None,
            "diskofferingid": disk[0] if disk else None, "diskofferingname": disk[1] if disk else None,
        })
        vm.update(related.get(v.id, _NO_TEMPLATE))
        vm.update(fixed)
        vm["nic"] = nic_list
        vm["securitygroup"] = [_drop_none({"id": g.uuid, "name": g.name, "description": g.description})
                               for g in sgs.get(v.id, [])]
        vm["affinitygroup"] = [{"id": g.uuid, "name": g.name, "type": g.type, "description": g.description or ""}
                               for g in ags.get(v.id, [])]
        vm["tags"] = plain(tag_views(s, by_tags[v.uuid])) if v.uuid in by_tags else []
        out.append(vm)
    return out


def vm_responses(ctx: CallContext, vms: Sequence[Any], **kw: Any) -> list[VirtualMachineResp]:
    """The same as models, for commands that answer one VM or decorate the response further."""
    return [VirtualMachineResp.model_validate(d) for d in vm_dicts(ctx, vms, **kw)]


def vm_response(ctx: CallContext, vm: VirtualMachine, **kw: Any) -> VirtualMachineResp:
    return vm_responses(ctx, [vm], **kw)[0]


def _reload(ctx: CallContext, uuid: str) -> VirtualMachine:
    ctx.session.expire_all()
    vm = vm_service.find_vm(ctx.session, uuid)
    assert vm is not None
    return vm


_details = map_pairs  # details[0].key=value (and the details[0].cpuNumber=2 shape some clients send)


# ------------------------------------------------------------------------------------------------ deploy

class DeployVmParams(Params):
    serviceofferingid: Annotated[str, Ref("ServiceOffering", "read")] = Field(
        description="the ID of the service offering for the virtual machine")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="availability zone for the virtual machine")
    templateid: Annotated[str | None, Ref("Template", "read")] = Field(
        None, description="the ID of the template for the virtual machine")
    name: str | None = Field(None, description="host name for the virtual machine")
    displayname: str | None = Field(None, description="an optional user generated name for the virtual machine")
    group: str | None = Field(None, description="an optional group for the virtual machine")
    account: str | None = Field(None, description="an optional account for the virtual machine. Must be used "
                                "with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="an optional domainId for the virtual machine. If the account parameter is used, "
        "domainId must also be used.")
    projectid: Uuid | None = Field(None, description="Deploy vm for the project")
    networkids: list[str] | None = Field(None, description="list of network ids used by virtual machine. Can't "
                                         "be specified with ipToNetworkList parameter")
    iptonetworklist: MapParam | None = Field(None, description="ip to network mapping. Can't be specified with "
                                             "networkIds parameter. Example: iptonetworklist[0].ip=10.10.10.11&"
                                             "iptonetworklist[0].networkid=uuid")
    ipaddress: str | None = Field(None, description="the ip address for default vm's network")
    keypair: str | None = Field(None, description="name of the ssh key pair used to login to the virtual machine")
    keypairs: list[str] | None = Field(None, description="names of the ssh key pairs used to login to the virtual "
                                       "machine")
    userdata: Annotated[str | None, ParamInfo(length=1048576)] = Field(
        None, description="an optional binary data that can be sent to the virtual "
                                 "machine upon a successful deployment. This binary data must be base64 encoded "
                                 "before adding it to the request. Using HTTP GET (via querystring), you can send "
                                 "up to 4KB of data after base64 encoding. Using HTTP POST (via POST body), you "
                                 "can send up to 1MB of data after base64 encoding.")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(
        None, description="destination Host ID to deploy the VM to - parameter available for root admin only")
    hypervisor: str | None = Field(None, description="the hypervisor on which to deploy the virtual machine")
    startvm: bool = Field(True, description="true if start vm after creating; defaulted to true if not specified")
    rootdisksize: Long | None = Field(None, description="Optional field to resize root disk on deploy. Value is in "
                                     "GB.")
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="the ID of the disk offering for the virtual machine. If the template is of ISO format, "
        "the diskOfferingId is for the root disk volume. Otherwise this parameter is used to indicate the offering "
        "for the data disk volume.")
    size: Long | None = Field(None, description="the arbitrary size for the DATADISK volume. Mutually exclusive "
                             "with diskOfferingId")
    details: MapParam | None = Field(None, description="used to specify the custom parameters. 'extraconfig' is "
                                     "not allowed to be passed in details")
    securitygroupids: list[str] | None = Field(None, description="comma separated list of security groups id that "
                                               "going to be applied to the virtual machine.")
    securitygroupnames: list[str] | None = Field(None, description="comma separated list of security groups names "
                                                 "that going to be applied to the virtual machine.")
    affinitygroupids: list[str] | None = Field(None, description="comma separated list of affinity groups id that "
                                               "are going to be applied to the virtual machine.")
    affinitygroupnames: list[str] | None = Field(None, description="comma separated list of affinity groups names "
                                                 "that are going to be applied to the virtual machine.")
    displayvm: bool = Field(True, description="an optional field, whether to the display the vm to the end user or "
                            "not.")
    userdataid: Uuid | None = Field(None, description="the ID of the Userdata")
    userdatadetails: MapParam | None = Field(None, description="used to specify the parameters values for the "
                                             "variables in userdata.")


def _networks(ctx: CallContext, p: DeployVmParams) -> tuple[list[Network], dict[int, str]]:
    if p.networkids and p.iptonetworklist:
        raise ParamError("ipToNetworkMap can't be specified along with networkIds or ipAddress")
    nets: list[Network] = []
    ips: dict[int, str] = {}
    for uuid in p.networkids or []:
        nets.append(access.resolve(ctx.session, ctx.caller, "Network", uuid, "read"))
    for item in p.iptonetworklist or []:
        net_uuid = item.get("networkid")
        if not net_uuid:
            raise ParamError("iptonetworklist entries need a networkid")
        net = access.resolve(ctx.session, ctx.caller, "Network", net_uuid, "read")
        nets.append(net)
        if item.get("ip"):
            ips[net.id] = item["ip"]
    if p.ipaddress and nets:
        ips.setdefault(nets[0].id, p.ipaddress)
    return nets, ips


def _deploy_create(ctx: CallContext, p: DeployVmParams) -> str:
    s = ctx.session
    if p.hostid and not ctx.caller.is_root_admin:
        raise PermissionDenied("Parameter hostid can only be specified by a Root Admin")
    if p.diskofferingid and p.size is None and ctx.refs["diskofferingid"].customized:
        raise ParamError("Disk offering is customized: size is required")
    owner = access.owner_for(s, ctx.caller, p.account, p.domainid, p.projectid)
    networks, ips = _networks(ctx, p)
    names = list(p.keypairs or []) + ([p.keypair] if p.keypair else [])
    host = ctx.refs.get("hostid")
    req = vm_service.DeployRequest(
        owner=owner, zone=ctx.refs["zoneid"], offering=ctx.refs["serviceofferingid"],
        template=ctx.refs.get("templateid"), user_id=ctx.caller.user_id if owner.id == ctx.caller.account_id else None,
        name=p.name, displayname=p.displayname, group=p.group, userdata=p.userdata, keypairs=names or None,
        hostid=host.id if host else None, rootdisksize=p.rootdisksize, disk_offering=ctx.refs.get("diskofferingid"),
        size=p.size, networks=networks, ip_for_network=ips, details=_details(p.details), hypervisor=p.hypervisor,
    )
    if host is not None and host.zone_id != req.zone.id:
        raise ParamError(f"Host {host.uuid} is not in zone {req.zone.uuid}")
    groups = sg_service.groups_for_deploy(s, ctx.caller, owner, req.zone, p.securitygroupids, p.securitygroupnames)
    ags = affinity.resolve_for_vm(s, ctx.caller, owner, [access.resolve(s, ctx.caller, "AffinityGroup", u, "read")
                                                         for u in p.affinitygroupids or []], p.affinitygroupnames)
    limits.check(s, owner, vm_service.needs(req))
    req.userdata, userdata_id, userdata_details = userdata_cmds.resolve_for_vm(
        ctx, p.userdata, p.userdataid, p.userdatadetails, req.template)
    vm = vm_service.allocate(s, req)
    if userdata_id is not None or userdata_details is not None:  # (assigning None would still UPDATE the new row)
        vm.user_data_id, vm.user_data_details = userdata_id, userdata_details
    if p.group:
        groups_of.ensure(s, owner, p.group)
    vm.display_vm = p.displayvm
    sg_service.join(s, vm, groups)
    if ags:  # a new VM is in no group yet: nothing to replace
        affinity.set_groups(s, vm, ags)
    return vm.uuid


@api_command("deployVirtualMachine", params=DeployVmParams, result_key="virtualmachine", is_async=True,
             create=_deploy_create, entity=_ENTITY, event="VM.CREATE", response=VirtualMachineResp,
             description="Creates and automatically starts a virtual machine based on a service offering, disk "
             "offering, and template.")
def deploy_vm(ctx: CallContext, p: DeployVmParams) -> VirtualMachineResp:
    assert ctx.created_uuid
    vm_id, password = vm_service.id_and_password(ctx.session, ctx.created_uuid)
    vm_service.release(ctx.session)
    if p.startvm:
        host = ctx.refs.get("hostid")
        known = [ctx.refs[k] for k in ("zoneid", "serviceofferingid", "templateid") if ctx.refs.get(k) is not None]
        vm_service.start(ctx.runtime, vm_id, host_id=host.id if host else None, deploy=True, known=known)
    return vm_service.done(ctx.session, vm_response(ctx, _reload(ctx, ctx.created_uuid), password=password))


# ------------------------------------------------------------------------------------------------ lifecycle

class VmIdParams(Params):
    id: Annotated[str, Ref(_ENTITY)] = Field(description="The ID of the virtual machine")


class StartVmParams(VmIdParams):
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(
        None, description="destination Host ID to deploy the VM to - parameter available for root admin only")
    clusterid: Uuid | None = Field(None, description="destination Cluster ID to deploy the VM to - parameter "
                                  "available for root admin only")
    podid: Uuid | None = Field(None, description="destination Pod ID to deploy the VM to - parameter available for "
                              "root admin only")


@api_command("startVirtualMachine", params=StartVmParams, result_key="virtualmachine", is_async=True,
             entity=_ENTITY, event="VM.START", response=VirtualMachineResp,
             description="Starts a virtual machine.")
def start_vm(ctx: CallContext, p: StartVmParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    host = ctx.refs.get("hostid")
    if host is not None and not ctx.caller.is_root_admin:
        raise PermissionDenied("Parameter hostid can only be specified by a Root Admin")
    vm_id, uuid = vm.id, vm.uuid
    vm_service.release(ctx.session)
    vm_service.start(ctx.runtime, vm_id, host_id=host.id if host else None)
    return vm_service.done(ctx.session, vm_response(ctx, _reload(ctx, uuid)))


class StopVmParams(VmIdParams):
    forced: bool = Field(False, description="Force stop the VM (vm is marked as Stopped even when command fails to "
                         "be send to the backend, otherwise a force poweroff is attempted). The caller knows the VM "
                         "is stopped.")


@api_command("stopVirtualMachine", params=StopVmParams, result_key="virtualmachine", is_async=True,
             entity=_ENTITY, event="VM.STOP", response=VirtualMachineResp,
             description="Stops a virtual machine.")
def stop_vm(ctx: CallContext, p: StopVmParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    vm_id, uuid = vm.id, vm.uuid
    vm_service.release(ctx.session)
    vm_service.stop(ctx.runtime, vm_id, forced=p.forced)
    return vm_service.done(ctx.session, vm_response(ctx, _reload(ctx, uuid)))


@api_command("rebootVirtualMachine", params=VmIdParams, result_key="virtualmachine", is_async=True,
             entity=_ENTITY, event="VM.REBOOT", response=VirtualMachineResp,
             description="Reboots a virtual machine.")
def reboot_vm(ctx: CallContext, p: VmIdParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    vm_id, uuid = vm.id, vm.uuid
    vm_service.release(ctx.session)
    vm_service.reboot(ctx.runtime, vm_id)
    return vm_service.done(ctx.session, vm_response(ctx, _reload(ctx, uuid)))


class DestroyVmParams(VmIdParams):
    expunge: bool = Field(False, description="If true is passed, the vm is expunged immediately. False by default.")
    volumeids: list[str] | None = Field(None, description="Comma separated list of UUIDs for volumes that will be "
                                        "deleted")


@api_command("destroyVirtualMachine", params=DestroyVmParams, result_key="virtualmachine", is_async=True,
             entity=_ENTITY, event="VM.DESTROY", response=VirtualMachineResp,
             description="Destroys a virtual machine.")
def destroy_vm(ctx: CallContext, p: DestroyVmParams) -> VirtualMachineResp | Success:
    vm = ctx.refs["id"]
    if p.expunge and not ctx.caller.is_admin:
        from management.services import configuration

        allowed = (configuration.get(ctx.session, "allow.user.expunge.recover.vm", "false") or "false") == "true"
        if not allowed:
            raise PermissionDenied("Parameter expunge can be passed by Admin only. Or when the allow.user.expunge."
                                   "recover.vm key is set.")
    vol_ids = []
    for uuid in p.volumeids or []:
        vol = access.resolve(ctx.session, ctx.caller, "Volume", uuid, "write")
        if vol.instance_id != vm.id or vol.volume_type != "DATADISK":
            raise ParamError(f"Volume {uuid} is not a data disk of VM {vm.uuid}")
        vol_ids.append(vol.id)
    vm_id, uuid = vm.id, vm.uuid
    vm_service.release(ctx.session)
    vm_service.destroy(ctx.runtime, vm_id, expunge_now=p.expunge, volume_ids=vol_ids)
    return vm_service.done(ctx.session, vm_response(ctx, _reload(ctx, uuid)))


@api_command("expungeVirtualMachine", params=VmIdParams, is_async=True, entity=_ENTITY, event="VM.EXPUNGE",
             roles=ADMIN, description="Expunge a virtual machine. Once expunged, it cannot be recoverd.")
def expunge_vm(ctx: CallContext, p: VmIdParams) -> Success:
    vm = ctx.refs["id"]
    if vm.state not in ("Destroyed", "Expunging", "Error"):
        raise InvalidStateTransition(f"Please specify a VM that is in Destroyed state (it is {vm.state})")
    vm_id = vm.id
    vm_service.release(ctx.session)
    vm_service.expunge(ctx.runtime, vm_id)
    return vm_service.done(ctx.session, Success())


@api_command("recoverVirtualMachine", params=VmIdParams, result_key="virtualmachine", entity=_ENTITY,
             event="VM.RECOVER", response=VirtualMachineResp, description="Recovers a virtual machine.")
def recover_vm(ctx: CallContext, p: VmIdParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    vm_service.recover(ctx.session, vm)
    return vm_response(ctx, vm)


class UpdateVmParams(VmIdParams):
    displayname: str | None = Field(None, description="user generated name")
    name: str | None = Field(None, description="new host name of the vm. The VM has to be stopped/started for this "
                             "update to take affect")
    group: str | None = Field(None, description="group of the virtual machine")
    haenable: bool | None = Field(None, description="true if high-availability is enabled for the virtual machine, "
                                  "false otherwise")
    ostypeid: Annotated[str | None, Ref("OsType", "read")] = Field(
        None, description="the ID of the OS type that best represents this VM.")
    userdata: Annotated[str | None, ParamInfo(length=1048576)] = Field(
        None, description="an optional binary data that can be sent to the virtual "
                                 "machine upon a successful deployment. This binary data must be base64 encoded.")
    details: MapParam | None = Field(None, description="Details in key/value pairs.")
    displayvm: bool | None = Field(None, description="an optional field, whether to the display the vm to the end "
                                   "user or not.")
    isdynamicallyscalable: bool | None = Field(None, description="true if VM contains XS/VMWare tools inorder to "
                                               "support dynamic scaling of VM cpu/memory")
    cleanupdetails: bool | None = Field(None, description="optional boolean field, which indicates if details "
                                        "should be cleaned up or not")


@api_command("updateVirtualMachine", params=UpdateVmParams, result_key="virtualmachine", entity=_ENTITY,
             event="VM.UPDATE", response=VirtualMachineResp,
             description="Updates properties of a virtual machine. The VM has to be stopped and restarted for the "
             "new properties to take effect. UpdateVirtualMachine does not first check whether the VM is stopped.")
def update_vm(ctx: CallContext, p: UpdateVmParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    if p.name is not None and p.name != vm.name:
        vm_service.validate_hostname(p.name)
        vm.name = p.name
    if p.displayname is not None:
        vm.display_name = p.displayname
    if p.group is not None:
        vm.group_name = p.group or None
    if p.haenable is not None:
        vm.ha_enabled = p.haenable
    if p.ostypeid is not None:
        vm.os_type_id = ctx.refs["ostypeid"].id
    if p.userdata is not None:
        vm.user_data = vm_service.validate_userdata(p.userdata)
    if p.displayvm is not None:
        vm.display_vm = p.displayvm
    if p.cleanupdetails:
        vm.details_json = None
    if p.details:
        d = vm_service.as_dict(vm.details_json)
        d.update(_details(p.details))
        vm.details_json = json.dumps(d)
    return vm_response(ctx, vm)


class ChangeServiceParams(VmIdParams):
    serviceofferingid: Annotated[str, Ref("ServiceOffering", "read")] = Field(
        description="the service offering ID to apply to the virtual machine")
    details: MapParam | None = Field(None, description="name value pairs of custom parameters for cpu, memory and "
                                     "cpunumber. example details[i].name=value")


@api_command("changeServiceForVirtualMachine", params=ChangeServiceParams, result_key="virtualmachine",
             entity=_ENTITY, event="VM.UPGRADE", response=VirtualMachineResp,
             description="Changes the service offering for a virtual machine. The virtual machine must be in a "
             "\"Stopped\" state for this command to take effect.")
def change_service(ctx: CallContext, p: ChangeServiceParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    vm_service.change_offering(ctx.session, vm, ctx.refs["serviceofferingid"], _details(p.details))
    return vm_response(ctx, vm)


@api_command("scaleVirtualMachine", params=ChangeServiceParams, result_key="virtualmachine", is_async=True,
             entity=_ENTITY, event="VM.UPGRADE", response=VirtualMachineResp,
             description="Scales the virtual machine to a new service offering. This command also considers the "
                         "volume size in the service offering or disk offering linked to the new service offering "
                         "and apply all characteristics to the root volume.")
def scale_vm(ctx: CallContext, p: ChangeServiceParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    vm_service.change_offering(ctx.session, vm, ctx.refs["serviceofferingid"], _details(p.details), live=True)
    return vm_response(ctx, vm)


class RestoreVmParams(Params):
    virtualmachineid: Annotated[str, Ref(_ENTITY)] = Field(description="Virtual Machine ID")
    templateid: Annotated[str | None, Ref("Template", "read")] = Field(
        None, description="an optional template Id to restore vm from the new template. This can be an ISO id in "
        "case of restore vm deployed using ISO")
    rootdisksize: Long | None = Field(None, description="Override root volume's size (in GB).")


@api_command("restoreVirtualMachine", params=RestoreVmParams, result_key="virtualmachine", is_async=True,
             entity=_ENTITY, event="VM.RESTORE", response=VirtualMachineResp,
             description="Restore a VM to original template/ISO or new template/ISO")
def restore_vm(ctx: CallContext, p: RestoreVmParams) -> VirtualMachineResp:
    vm = ctx.refs["virtualmachineid"]
    tmpl = ctx.refs.get("templateid")
    vm_id, uuid = vm.id, vm.uuid
    vm_service.release(ctx.session)
    vm_service.restore(ctx.runtime, vm_id, tmpl.id if tmpl else None)
    return vm_service.done(ctx.session, vm_response(ctx, _reload(ctx, uuid)))


@api_command("resetPasswordForVirtualMachine", params=VmIdParams, result_key="virtualmachine", is_async=True,
             entity=_ENTITY, event="VM.RESETPASSWORD", response=VirtualMachineResp,
             description="Resets the password for virtual machine. The virtual machine must be in a \"Stopped\" "
             "state and the template must already support this feature for this command to take effect.")
def reset_password(ctx: CallContext, p: VmIdParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    tmpl = ctx.session.get(Template, vm.template_id) if vm.template_id else None
    if tmpl is None or not tmpl.password_enabled:
        raise ParamError(f"Fail to reset password for the virtual machine {vm.uuid}: the template is not password "
                         "enabled")
    if vm.state not in ("Stopped", "Running"):
        raise InvalidStateTransition(f"vm {vm.uuid} is not in the right state: {vm.state}")
    vm.password = vm_service.new_password()
    ctx.session.flush()
    return vm_response(ctx, vm, password=vm.password)


# ------------------------------------------------------------------------------------------------ list

class ListVmParams(TaggedListParams):
    id: Annotated[str | None, Ref(_ENTITY, "read")] = Field(None, description="the ID of the virtual machine")
    ids: list[str] | None = Field(None, description="the IDs of the virtual machines, mutually exclusive with id")
    name: str | None = Field(None, description="name of the virtual machine (a substring match)")
    state: str | None = Field(None, description="state of the virtual machine. Possible values are: Running, "
                              "Stopped, Present, Destroyed, Expunged. Present is used for the state equal not "
                              "destroyed.")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the availability zone ID")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="the host ID")
    podid: Uuid | None = Field(None, description="the pod ID")
    clusterid: Uuid | None = Field(None, description="the cluster ID")
    storageid: Uuid | None = Field(None, description="the storage ID where vm's volumes belong to")
    templateid: Annotated[str | None, Ref("Template", "read")] = Field(None, description="list vms by template")
    serviceofferingid: Annotated[str | None, Ref("ServiceOffering", "read")] = Field(
        None, description="list by the service offering")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list by network id")
    groupid: Uuid | None = Field(None, description="the group ID")
    hypervisor: str | None = Field(None, description="the target hypervisor for the template")
    keypair: str | None = Field(None, description="list vms by ssh keypair name")
    details: list[str] | None = Field(None, description="comma separated list of vm details requested, value can "
                                      "be a list of [all, group, nics, stats, secgrp, tmpl, servoff, diskoff, "
                                      "backoff, iso, volume, min, affgrp]. If no parameter is passed in, the "
                                      "details will be defaulted to all")
    displayvm: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                   "to pass this parameter")
    isrecursive: bool = Field(False, description="defaults to false, but if true, lists all resources from the "
                              "parent specified by the domainId till leaves.")
    forvirtualnetwork: bool | None = Field(None, description="list by network type; true if need to list vms using "
                                           "Virtual Network, false otherwise")
    haenable: bool | None = Field(None, description="list by the High Availability offering; true if filtering VMs "
                                  "with HA enabled; false for VMs with HA disabled")


@api_command("listVirtualMachines", params=ListVmParams, result_key="virtualmachine", response=VirtualMachineResp,
             description="List the virtual machines owned by the account.")
def list_vms(ctx: CallContext, p: ListVmParams) -> ListResult:
    s = ctx.session
    stmt = cast("Select[Any]", select(*VM_RESPONSE_COLUMNS).where(VirtualMachine.removed.is_(None),
                                                                VirtualMachine.vm_type == "User"))
    stmt = access.owned_filter(s, stmt, VirtualMachine, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(VirtualMachine.uuid == p.id)
    if p.ids:
        stmt = stmt.where(VirtualMachine.uuid.in_(p.ids))
    if p.name:
        stmt = stmt.where(VirtualMachine.name.ilike(f"%{p.name}%") | VirtualMachine.display_name.ilike(f"%{p.name}%"))
    if p.state:
        st = p.state
        if st.lower() == "present":
            stmt = stmt.where(VirtualMachine.state.not_in(("Destroyed", "Expunging")))
        else:
            stmt = stmt.where(VirtualMachine.state == st[:1].upper() + st[1:])
    elif not ctx.caller.is_admin:
        stmt = stmt.where(VirtualMachine.state.not_in(("Destroyed", "Expunging")))
    if p.zoneid:
        stmt = stmt.where(VirtualMachine.zone_id == ctx.refs["zoneid"].id)
    if p.hostid:
        stmt = stmt.where(VirtualMachine.host_id == ctx.refs["hostid"].id)
    if p.templateid:
        stmt = stmt.where(VirtualMachine.template_id == ctx.refs["templateid"].id)
    if p.serviceofferingid:
        stmt = stmt.where(VirtualMachine.service_offering_id == ctx.refs["serviceofferingid"].id)
    if p.networkid:
        sub = select(Nic.instance_id).where(Nic.network_id == ctx.refs["networkid"].id, Nic.removed.is_(None))
        stmt = stmt.where(VirtualMachine.id.in_(sub))
    if p.hypervisor:
        stmt = stmt.where(VirtualMachine.hypervisor_type == p.hypervisor)
    if p.keypair:
        stmt = stmt.where(VirtualMachine.keypairs.like(f"%{p.keypair}%"))
    if p.haenable is not None:
        stmt = stmt.where(VirtualMachine.ha_enabled == p.haenable)
    if p.displayvm is not None and ctx.caller.is_root_admin:
        stmt = stmt.where(VirtualMachine.display_vm == p.displayvm)
    if p.groupid:
        stmt = stmt.where(VirtualMachine.group_name == groups_of.name_of(s, p.groupid))
    stmt = keyword_filter(stmt, p.keyword, VirtualMachine.name, VirtualMachine.display_name,
                          VirtualMachine.instance_name, VirtualMachine.state)
    stmt = tags_filter(stmt, p.tags, "UserVm", VirtualMachine.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, VirtualMachine.id)
    details = {d.lower() for d in p.details} if p.details else None
    return ListResult(vm_dicts(ctx, rows, details=details), count)


class GetUserDataParams(Params):
    virtualmachineid: Annotated[str, Ref(_ENTITY, "read")] = Field(description="The ID of the virtual machine")


@api_command("getVirtualMachineUserData", params=GetUserDataParams, result_key="virtualmachineuserdata",
             response=VmUserDataResp, since="4.4.0", description="Returns user data associated with the VM")
def get_user_data(ctx: CallContext, p: GetUserDataParams) -> VmUserDataResp:
    vm = ctx.refs["virtualmachineid"]
    return VmUserDataResp(virtualmachineid=vm.uuid, userdata=vm.user_data)
