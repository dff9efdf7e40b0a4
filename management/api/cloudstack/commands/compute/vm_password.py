"""getVMPassword: a VM's password, encrypted with its SSH key pair's public key."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.registry import Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp
from management.services.compute import vm_password
from management.services.context import CallContext


class GetVMPasswordResp(JobResp):
    encryptedpassword: str = Field(description="The base64 encoded encrypted password of the VM")


class GetVMPasswordParams(Params):
    id: Annotated[str, Ref("VirtualMachine", "read")] = Field(description="The ID of the virtual machine")


@api_command("getVMPassword", params=GetVMPasswordParams, result_key="password", response=GetVMPasswordResp,
             description="Returns an encrypted password for the VM")
def get_vm_password(ctx: CallContext, p: GetVMPasswordParams) -> GetVMPasswordResp:
    return GetVMPasswordResp(encryptedpassword=vm_password.encrypted_password(ctx.session, ctx.refs["id"]))
