"""assignVirtualMachine: a stopped VM moves to another account (services/compute/vm_assign)."""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.registry import DOMAIN_ADMIN, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.errors import CloudError, InternalError, ParamError
from management.models.compute import VirtualMachine
from management.services import access
from management.services.compute import vm_assign
from management.services.context import CallContext

log = logging.getLogger(__name__)


class AssignVirtualMachineParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="id of the VM to be moved")
    account: str | None = Field(None, description="account name of the new VM owner.")
    domainid: Uuid | None = Field(None, description="domain id of the new VM owner.")
    projectid: Uuid | None = Field(None, description="an optional project for the new VM owner.")
    networkids: Annotated[list[str] | None, Ref("Network", "read")] = Field(
        None, description="list of new network ids in which the moved VM will participate (advanced zones); "
        "without them the new owner's default isolated network is used (created when it has none)")
    securitygroupids: Annotated[list[str] | None, Ref("SecurityGroup", "read")] = Field(
        None, description="list of security group ids to be applied on the VM (zones with security groups); "
        "without them the VM joins the new owner's default security group")


@api_command("assignVirtualMachine", params=AssignVirtualMachineParams, result_key="virtualmachine",
             response=VirtualMachineResp, roles=DOMAIN_ADMIN, event="VM.MOVE", entity="VirtualMachine",
             description="Change ownership of a VM from one account to another. This API is available for Basic "
                         "zones with security groups and Advanced zones with guest networks. A root administrator "
                         "can reassign a VM from any account to any other account in any domain. A domain "
                         "administrator can reassign a VM to any account in the same domain.")
def assign_virtual_machine(ctx: CallContext, p: AssignVirtualMachineParams) -> VirtualMachineResp:
    vm: VirtualMachine = ctx.refs["virtualmachineid"]
    if p.projectid is not None and p.domainid is None:
        raise ParamError("Please provide a valid domain ID; cannot assign VM to a project if domain ID is NULL.")
    try:
        new = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
        vm_assign.assign(ctx.session, vm, new, networks=list(ctx.refs.get("networkids") or []),
                         groups=list(ctx.refs.get("securitygroupids") or []))
    except CloudError as exc:
        # CloudStack answers with the VM's id only; the cause goes to the log
        log.info("assignVirtualMachine of VM %s refused: %s", vm.uuid, exc)
        msg = f"Failed to move Instance due to [{vm.id}]."
        raise (ParamError(msg) if isinstance(exc, ParamError) else InternalError(msg)) from None
    return vm_response(ctx, vm)
