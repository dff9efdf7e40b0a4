"""Volumes' destroy/recover cycle and metadata updates: destroyVolume, recoverVolume, updateVolume."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management import fsm
from management.api.cloudstack.commands.storage.volumes import _reload
from management.api.cloudstack.registry import ParamInfo, Params, Ref, api_command
from management.api.cloudstack.schemas_compute import VolumeResp
from management.errors import ParamError, PermissionDenied
from management.fsm import VolumeEvent
from management.models.storage import Volume
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.storage import volumes as volumes_service


class DestroyVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="The ID of the volume")
    expunge: bool = Field(False, description="If true is passed, the volume is expunged immediately. False by "
                          "default.")


@api_command("destroyVolume", params=DestroyVolumeParams, is_async=True, result_key="volume", response=VolumeResp,
             entity="Volume", event="VOLUME.DESTROY", since="4.14.0",
             description="Destroys a Volume: it stays recoverable (recoverVolume) until it is expunged.")
def destroy_volume(ctx: CallContext, p: DestroyVolumeParams) -> VolumeResp | None:
    vol: Volume = ctx.refs["id"]
    if vol.instance_id is not None:
        raise ParamError("Please specify a volume that is not attached to any VM.")
    if vol.volume_type == "ROOT":
        raise ParamError("Please specify a volume that is not ROOT volume.")
    if p.expunge or vol.pool_id is None:  # nothing on storage to keep for a later recover: gone at once
        vol_id = vol.id
        vm_service.release(ctx.session)
        volumes_service.delete(ctx.runtime, vol_id)
        return None
    if vol.state != "Destroy":
        fsm.transition(ctx.session, vol, VolumeEvent.DestroyRequested)
    ctx.session.flush()
    return _reload(ctx, vol.id)


class RecoverVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="The ID of the volume")


@api_command("recoverVolume", params=RecoverVolumeParams, result_key="volume", response=VolumeResp,
             entity="Volume", event="VOLUME.RECOVER", since="4.14.0", description="Recovers a Destroy volume.")
def recover_volume(ctx: CallContext, p: RecoverVolumeParams) -> VolumeResp:
    vol: Volume = ctx.refs["id"]
    if vol.state != "Destroy":
        raise ParamError("Please specify a volume in Destroy state.")
    fsm.transition(ctx.session, vol, VolumeEvent.RecoverRequested)
    ctx.session.flush()
    return _reload(ctx, vol.id)


class UpdateVolumeParams(Params):
    id: Annotated[str | None, Ref("Volume")] = Field(None, description="the ID of the disk volume")
    name: str | None = Field(None, description="new name of the volume")
    displayvolume: bool | None = Field(None, description="an optional field, whether to the display the volume to "
                                       "the end user or not.")
    path: str | None = Field(None, description="The path of the volume (root admin only)")
    customid: Annotated[str | None, ParamInfo(since="4.4")] = Field(
        None, description="an optional field, in case you want to set a custom id to the resource. Allowed to Root "
        "Admins only")


@api_command("updateVolume", params=UpdateVolumeParams, is_async=True, result_key="volume", response=VolumeResp,
             entity="Volume", event="VOLUME.UPDATE", description="Updates the volume.")
def update_volume(ctx: CallContext, p: UpdateVolumeParams) -> VolumeResp:
    vol: Volume | None = ctx.refs.get("id")
    if vol is None:
        raise ParamError("The volume id is required")
    admin_only = {"path": p.path, "customid": p.customid}
    if not ctx.caller.is_root_admin and any(v is not None for v in admin_only.values()):
        raise PermissionDenied("Only root admin can update path or custom id of a volume")
    if p.name is not None:
        vol.name = p.name
    if p.displayvolume is not None:
        vol.display_volume = p.displayvolume
    if p.path is not None:
        vol.path = p.path
    if p.customid is not None:
        vol.uuid = p.customid
    ctx.session.flush()
    return _reload(ctx, vol.id)
