"""A VM's NICs: addNicToVirtualMachine, removeNicFromVirtualMachine, updateDefaultNicForVirtualMachine,
updateVmNicIp, addIpToNic, removeIpFromNic (listNics: the network family's command)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import MapParam, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.api.cloudstack.schemas_compute_extras import NicSecondaryIpResp
from management.errors import PermissionDenied
from management.models.compute import VirtualMachine
from management.models.network import Network, Nic
from management.models.nic_secondary_ips import NicSecondaryIp
from management.services import access
from management.services.compute import nics as svc
from management.services.compute import vm as vm_service
from management.services.context import CallContext


def _nic_visible(session, caller, row, access_kind) -> bool:  # type: ignore[no-untyped-def]
    vm = session.get(VirtualMachine, row.instance_id)
    return vm is not None and access.can_access_owner(session, caller, vm.account_id, vm.domain_id)


access.register_entity("Nic", Nic, "owned", visible=_nic_visible)
access.register_entity("NicSecondaryIp", NicSecondaryIp, "owned", soft_delete=False)
_VM = "VirtualMachine"


def _vm(ctx: CallContext, uuid: str) -> VirtualMachineResp:
    ctx.session.expire_all()
    vm = vm_service.find_vm(ctx.session, uuid)
    assert vm is not None
    return vm_service.done(ctx.session, vm_response(ctx, vm))


class AddNicParams(Params):
    virtualmachineid: Annotated[str, Ref(_VM)] = Field(description="Virtual Machine ID")
    networkid: Annotated[str, Ref("Network", "read")] = Field(description="Network ID")
    ipaddress: str | None = Field(None, description="IP Address for the new network")
    macaddress: str | None = Field(None, description="Mac Address for the new network")
    dhcpoptions: MapParam | None = Field(None, description="DHCP options which are passed to the nic Example: "
                                         "dhcpoptions[0].dhcp:114=url&dhcpoptions[0].dhcp:66=www.test.com")


@api_command("addNicToVirtualMachine", params=AddNicParams, result_key="virtualmachine", is_async=True,
             entity=_VM, event="NIC.CREATE", response=VirtualMachineResp, since="3.0.1",
             description="Adds VM to specified network by creating a NIC")
def add_nic(ctx: CallContext, p: AddNicParams) -> VirtualMachineResp:
    vm, net = ctx.refs["virtualmachineid"], ctx.refs["networkid"]
    if net.account_id not in (None, vm.account_id) and net.guest_type != "Shared" and not ctx.caller.is_root_admin:
        raise PermissionDenied(f"only shared network or isolated network with the same account_id can be "
                                      f"added to vmId: {vm.uuid}")
    vm_id, net_id, uuid = vm.id, net.id, vm.uuid
    vm_service.release(ctx.session)
    svc.add_nic(ctx.runtime, vm_id, net_id, ip=p.ipaddress, mac=p.macaddress)
    return _vm(ctx, uuid)


class VmNicParams(Params):
    virtualmachineid: Annotated[str, Ref(_VM)] = Field(description="Virtual Machine ID")
    nicid: Annotated[str, Ref("Nic")] = Field(description="NIC ID")


@api_command("removeNicFromVirtualMachine", params=VmNicParams, result_key="virtualmachine", is_async=True,
             entity=_VM, event="NIC.DELETE", response=VirtualMachineResp, since="3.0.1",
             description="Removes VM from specified network by deleting a NIC")
def remove_nic(ctx: CallContext, p: VmNicParams) -> VirtualMachineResp:
    vm, nic = ctx.refs["virtualmachineid"], ctx.refs["nicid"]
    vm_id, nic_id, uuid = vm.id, nic.id, vm.uuid
    vm_service.release(ctx.session)
    svc.remove_nic(ctx.runtime, vm_id, nic_id)
    return _vm(ctx, uuid)


@api_command("updateDefaultNicForVirtualMachine", params=VmNicParams, result_key="virtualmachine", is_async=True,
             entity=_VM, event="NIC.UPDATE", response=VirtualMachineResp, since="3.0.1",
             description="Changes the default NIC on a VM")
def update_default_nic(ctx: CallContext, p: VmNicParams) -> VirtualMachineResp:
    vm = ctx.refs["virtualmachineid"]
    svc.update_default(ctx.session, vm, ctx.refs["nicid"])
    return vm_response(ctx, vm)


class UpdateVmNicIpParams(Params):
    nicid: Annotated[str, Ref("Nic")] = Field(description="the ID of the nic to which you want to assign private IP")
    ipaddress: str | None = Field(None, description="Secondary IP Address")


@api_command("updateVmNicIp", params=UpdateVmNicIpParams, result_key="virtualmachine", is_async=True,
             entity=_VM, event="NIC.SECONDARY.IP.CONFIGURE", response=VirtualMachineResp, since="4.5",
             description="Update the default Ip of a VM Nic")
def update_vm_nic_ip(ctx: CallContext, p: UpdateVmNicIpParams) -> VirtualMachineResp:
    nic = ctx.refs["nicid"]
    svc.update_ip(ctx.session, nic, p.ipaddress)
    return vm_response(ctx, ctx.session.get_one(VirtualMachine, nic.instance_id))


def secondary_resp(ctx: CallContext, sec: NicSecondaryIp) -> NicSecondaryIpResp:
    nic = ctx.session.get_one(Nic, sec.nic_id)
    net = ctx.session.get(Network, sec.network_id)
    vm = ctx.session.get(VirtualMachine, sec.vm_id)
    return NicSecondaryIpResp(id=sec.uuid, ipaddress=sec.ip4_address, nicid=nic.uuid,
                              networkid=net.uuid if net else None, virtualmachineid=vm.uuid if vm else None)


class AddIpToNicParams(Params):
    nicid: Annotated[str, Ref("Nic")] = Field(description="the ID of the nic to which you want to assign private IP")
    ipaddress: str | None = Field(None, description="Secondary IP Address")


def _add_ip(ctx: CallContext, p: AddIpToNicParams) -> str:
    return svc.add_secondary_ip(ctx.session, ctx.refs["nicid"], p.ipaddress).uuid


@api_command("addIpToNic", params=AddIpToNicParams, result_key="nicsecondaryip", is_async=True, create=_add_ip,
             entity="NicSecondaryIp", event="NIC.SECONDARY.IP.ASSIGN", response=NicSecondaryIpResp, since="4.2.0",
             description="Assigns secondary IP to NIC")
def add_ip_to_nic(ctx: CallContext, p: AddIpToNicParams) -> NicSecondaryIpResp:
    sec = ctx.session.scalar(select(NicSecondaryIp).where(NicSecondaryIp.uuid == ctx.created_uuid))
    assert sec is not None
    return secondary_resp(ctx, sec)


class RemoveIpFromNicParams(Params):
    id: Annotated[str, Ref("NicSecondaryIp")] = Field(description="the ID of the secondary ip address to nic")
    accountid: Uuid | None = Field(None, description="the ID of the account")


@api_command("removeIpFromNic", params=RemoveIpFromNicParams, is_async=True, entity="NicSecondaryIp",
             event="NIC.SECONDARY.IP.UNASSIGN", since="4.2.0", description="Removes secondary IP from the NIC.")
def remove_ip_from_nic(ctx: CallContext, p: RemoveIpFromNicParams) -> Success:
    svc.remove_secondary_ip(ctx.session, ctx.refs["id"])
    return Success()
