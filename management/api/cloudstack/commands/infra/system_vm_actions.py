"""The lifecycle commands of system VMs: start, stop, reboot, destroy, migrate, scale, change offering, patch.
devcloud runs no secondary-storage or console-proxy VM (see system_vms.py), so no id names one: each command
answers as CloudStack does for an id that resolves to nothing, after checking the ids of the other entities it
is given (host, storage pool, service offering)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.infra.system_vms import SystemVmResp
from management.api.cloudstack.registry import ADMIN, MapParam, Params, Ref, Uuid, api_command
from management.errors import ParamError, invalid_id
from management.services.context import CallContext


class SystemVmIdParams(Params):
    id: Uuid = Field(description="The ID of the system virtual machine")


class StopSystemVmParams(SystemVmIdParams):
    forced: bool | None = Field(None, description="Force stop the VM (vm is marked as Stopped even when command fails "
                                "to be send to the backend, otherwise a force poweroff is attempted). The caller "
                                "knows the VM is stopped.")


class RebootSystemVmParams(SystemVmIdParams):
    forced: bool | None = Field(None, description="Force reboot the system VM (System VM is Stopped and then "
                                "Started)")


class MigrateSystemVmParams(Params):
    virtualmachineid: Uuid = Field(description="the ID of the virtual machine")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="destination Host ID to migrate VM "
                                                               "to")
    storageid: Annotated[str | None, Ref("StoragePool", "read")] = Field(
        None, description="Destination storage pool ID to migrate VM volumes to. Required for migrating the root "
        "disk volume")
    autoselect: bool | None = Field(None, description="Automatically select a destination host which do not require "
                                    "storage migration, if hostId and storageId are not specified. false by default")


class ScaleSystemVmParams(SystemVmIdParams):
    serviceofferingid: Annotated[str, Ref("ServiceOffering", "read")] = Field(
        description="the service offering ID to apply to the system vm")
    details: MapParam | None = Field(None, description="name value pairs of custom parameters for cpu, memory and "
                                     "cpunumber. example details[i].name=value")


class PatchSystemVmParams(Params):
    id: Uuid | None = Field(None, description="patches systemVM - CPVM/SSVM with the specified ID")
    forced: bool | None = Field(None, description="If true, initiates copy of scripts and restart of the agent, even "
                                "if the scripts version matches.To be used with ID parameter only")


def _none(vm_id: str | None) -> SystemVmResp:
    raise invalid_id(vm_id or "")


@api_command("startSystemVm", params=SystemVmIdParams, result_key="systemvm", response=SystemVmResp, roles=ADMIN,
             is_async=True, event="SSVM.START", description="Starts a system virtual machine.")
def start_system_vm(ctx: CallContext, p: SystemVmIdParams) -> SystemVmResp:
    return _none(p.id)


@api_command("stopSystemVm", params=StopSystemVmParams, result_key="systemvm", response=SystemVmResp, roles=ADMIN,
             is_async=True, event="SSVM.STOP", description="Stops a system VM.")
def stop_system_vm(ctx: CallContext, p: StopSystemVmParams) -> SystemVmResp:
    return _none(p.id)


@api_command("rebootSystemVm", params=RebootSystemVmParams, result_key="systemvm", response=SystemVmResp,
             roles=ADMIN, is_async=True, event="SSVM.REBOOT", description="Reboots a system VM.")
def reboot_system_vm(ctx: CallContext, p: RebootSystemVmParams) -> SystemVmResp:
    return _none(p.id)


@api_command("destroySystemVm", params=SystemVmIdParams, result_key="systemvm", response=SystemVmResp, roles=ADMIN,
             is_async=True, event="SSVM.DESTROY", description="Destroys a system virtual machine.")
def destroy_system_vm(ctx: CallContext, p: SystemVmIdParams) -> SystemVmResp:
    return _none(p.id)


@api_command("migrateSystemVm", params=MigrateSystemVmParams, result_key="systemvm", response=SystemVmResp,
             roles=ADMIN, is_async=True, event="VM.MIGRATE", description="Attempts Migration of a system virtual "
             "machine to the host specified.")
def migrate_system_vm(ctx: CallContext, p: MigrateSystemVmParams) -> SystemVmResp:
    if p.hostid and p.storageid:
        raise ParamError("Only one of hostId and storageId can be specified")
    return _none(p.virtualmachineid)


@api_command("scaleSystemVm", params=ScaleSystemVmParams, result_key="systemvm", response=SystemVmResp, roles=ADMIN,
             is_async=True, event="SSVM.SCALE", description="Scale the service offering for a system vm (console "
             "proxy or secondary storage). The system vm must be in a \"Stopped\" state for this command to take "
             "effect.")
def scale_system_vm(ctx: CallContext, p: ScaleSystemVmParams) -> SystemVmResp:
    return _none(p.id)


@api_command("changeServiceForSystemVm", params=ScaleSystemVmParams, result_key="systemvm", response=SystemVmResp,
             roles=ADMIN, event="SSVM.UPGRADE", description="Changes the service offering for a system vm (console "
             "proxy or secondary storage). The system vm must be in a \"Stopped\" state for this command to take "
             "effect.")
def change_service_for_system_vm(ctx: CallContext, p: ScaleSystemVmParams) -> SystemVmResp:
    return _none(p.id)


@api_command("patchSystemVm", params=PatchSystemVmParams, result_key="systemvm", response=SystemVmResp, roles=ADMIN,
             is_async=True, event="SYSVM.PATCH", since="4.17.0", description="Attempts to live patch systemVMs - CPVM, "
             "SSVM ")
def patch_system_vm(ctx: CallContext, p: PatchSystemVmParams) -> SystemVmResp:
    if not p.id:
        raise ParamError("Please provide a valid ID of a system VM to be patched")
    return _none(p.id)
