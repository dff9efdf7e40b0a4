"""ISOs in a VM's CD-ROM drive: attachIso, detachIso."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.registry import Params, Ref, api_command
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.services.compute import isos as svc
from management.services.compute import vm as vm_service
from management.services.context import CallContext

_VM = "VirtualMachine"


def _respond(ctx: CallContext, uuid: str) -> VirtualMachineResp:
    ctx.session.expire_all()
    vm = vm_service.find_vm(ctx.session, uuid)
    assert vm is not None
    return vm_service.done(ctx.session, vm_response(ctx, vm))


class AttachIsoParams(Params):
    id: Annotated[str, Ref("Template", "read")] = Field(description="the ID of the ISO file")
    virtualmachineid: Annotated[str, Ref(_VM)] = Field(description="the ID of the virtual machine")
    forced: bool | None = Field(None, description="If true, ejects existing ISO before attaching on VMware. Default: "
                                "false")


@api_command("attachIso", params=AttachIsoParams, result_key="virtualmachine", is_async=True, entity=_VM,
             event="ISO.ATTACH", response=VirtualMachineResp, description="Attaches an ISO to a virtual machine.")
def attach_iso(ctx: CallContext, p: AttachIsoParams) -> VirtualMachineResp:
    vm, iso = ctx.refs["virtualmachineid"], ctx.refs["id"]
    vm_id, iso_id, uuid = vm.id, iso.id, vm.uuid
    vm_service.release(ctx.session)
    svc.attach(ctx.runtime, vm_id, iso_id)
    return _respond(ctx, uuid)


class DetachIsoParams(Params):
    virtualmachineid: Annotated[str, Ref(_VM)] = Field(description="The ID of the virtual machine")
    forced: bool | None = Field(None, description="If true, ejects the ISO before detaching on VMware. Default: false")


@api_command("detachIso", params=DetachIsoParams, result_key="virtualmachine", is_async=True, entity=_VM,
             event="ISO.DETACH", response=VirtualMachineResp, description="Detaches any ISO file (if any) currently "
             "attached to a virtual machine.")
def detach_iso(ctx: CallContext, p: DetachIsoParams) -> VirtualMachineResp:
    vm = ctx.refs["virtualmachineid"]
    vm_id, uuid = vm.id, vm.uuid
    vm_service.release(ctx.session)
    svc.detach(ctx.runtime, vm_id)
    return _respond(ctx, uuid)
