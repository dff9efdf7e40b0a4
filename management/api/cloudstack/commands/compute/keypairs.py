"""SSH key pairs: createSSHKeyPair, registerSSHKeyPair, listSSHKeyPairs, deleteSSHKeyPair,
resetSSHKeyForVirtualMachine."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import OwnedListParams, ParamInfo, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_compute import SSHKeyPairResp, VirtualMachineResp
from management.errors import InvalidStateTransition, ParamError
from management.models.compute import SSHKeyPair
from management.models.identity import Account, Domain
from management.services import access
from management.services.compute import keypairs
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("SSHKeyPair", SSHKeyPair, "owned", soft_delete=False)


def kp_resp(ctx: CallContext, kp: SSHKeyPair, *, private: str | None = None) -> SSHKeyPairResp:
    acct = ctx.session.get(Account, kp.account_id)
    dom = ctx.session.get(Domain, kp.domain_id)
    return SSHKeyPairResp(id=kp.uuid, name=kp.name, fingerprint=kp.fingerprint, privatekey=private,
                          publickey=kp.public_key if private is None else None,
                          account=acct.name if acct else None, domainid=dom.uuid if dom else None,
                          domain=dom.name if dom else None)


class OwnerParams(Params):
    account: str | None = Field(None, description="an optional account for the ssh key. Must be used with "
                                "domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="an optional domainId for the ssh key. If the account parameter is used, domainId must "
        "also be used.")
    projectid: Uuid | None = Field(None, description="an optional project for the ssh key")


class CreateKeyPairParams(OwnerParams):
    name: str = Field(description="Name of the keypair")


@api_command("createSSHKeyPair", params=CreateKeyPairParams, result_key="keypair", event="REGISTER.SSH.KEYPAIR",
             entity="SSHKeyPair", response=SSHKeyPairResp,
             description="Create a new keypair and returns the private key")
def create_keypair(ctx: CallContext, p: CreateKeyPairParams) -> SSHKeyPairResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    kp, private = keypairs.create(ctx.session, owner, p.name)
    return kp_resp(ctx, kp, private=private)


class RegisterKeyPairParams(OwnerParams):
    name: str = Field(description="Name of the keypair")
    publickey: Annotated[str, ParamInfo(length=5120)] = Field(description="Public key material of the keypair")


@api_command("registerSSHKeyPair", params=RegisterKeyPairParams, result_key="keypair",
             event="REGISTER.SSH.KEYPAIR", entity="SSHKeyPair", response=SSHKeyPairResp,
             description="Register a public key in a keypair under a certain name")
def register_keypair(ctx: CallContext, p: RegisterKeyPairParams) -> SSHKeyPairResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    kp = keypairs.register(ctx.session, owner, p.name, p.publickey)
    return kp_resp(ctx, kp)


class ListKeyPairsParams(OwnedListParams):
    id: Uuid | None = Field(None, description="the ID of the ssh keypair")
    name: str | None = Field(None, description="A key pair name to look for")
    fingerprint: str | None = Field(None, description="A public key fingerprint to look for")


@api_command("listSSHKeyPairs", params=ListKeyPairsParams, result_key="sshkeypair", response=SSHKeyPairResp,
             description="List registered keypairs")
def list_keypairs(ctx: CallContext, p: ListKeyPairsParams) -> ListResult:
    stmt = select(SSHKeyPair)
    stmt = access.owned_filter(ctx.session, stmt, SSHKeyPair, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(SSHKeyPair.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(SSHKeyPair.name, p.name))
    if p.fingerprint:
        stmt = stmt.where(SSHKeyPair.fingerprint == p.fingerprint)
    stmt = keyword_filter(stmt, p.keyword, SSHKeyPair.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, SSHKeyPair.id)
    return ListResult([kp_resp(ctx, k) for k in rows], count)


class DeleteKeyPairParams(OwnerParams):
    name: str = Field(description="Name of the keypair")


@api_command("deleteSSHKeyPair", params=DeleteKeyPairParams, event="DELETE.SSH.KEYPAIR", entity="SSHKeyPair",
             description="Deletes a keypair by name")
def delete_keypair(ctx: CallContext, p: DeleteKeyPairParams) -> Success:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    kp = keypairs.find(ctx.session, owner, p.name)
    if kp is None:
        raise ParamError(f"A key pair with name '{p.name}' does not exist for account {owner.name} in specified "
                         "domain id")
    ctx.session.delete(kp)
    return Success()


class ResetSshKeyParams(OwnerParams):
    id: Annotated[str, Ref("VirtualMachine")] = Field(description="The ID of the virtual machine")
    keypair: str | None = Field(None, description="name of the ssh key pair used to login to the virtual machine")
    keypairs: list[str] | None = Field(None, description="names of the ssh key pairs to be used to login to the "
                                       "virtual machine")


@api_command("resetSSHKeyForVirtualMachine", params=ResetSshKeyParams, result_key="virtualmachine", is_async=True,
             entity="VirtualMachine", event="VM.RESETSSHKEY", response=VirtualMachineResp,
             description="Resets the SSH Key for virtual machine. The virtual machine must be in a \"Stopped\" "
             "state.")
def reset_ssh_key(ctx: CallContext, p: ResetSshKeyParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    if vm.state != "Stopped":
        raise InvalidStateTransition(f"vm {vm.uuid} is not in the right state: {vm.state}; it must be Stopped")
    names = list(p.keypairs or []) + ([p.keypair] if p.keypair else [])
    if not names:
        raise ParamError("'keypair' or 'keyparis' must be specified")
    owner = ctx.session.get_one(Account, vm.account_id)
    for n in names:
        if keypairs.find(ctx.session, owner, n) is None:
            raise ParamError(f"A key pair with name '{n}' was not found for account {owner.name}")
    vm.keypairs = ",".join(names)
    ctx.session.flush()
    return vm_response(ctx, vm)
