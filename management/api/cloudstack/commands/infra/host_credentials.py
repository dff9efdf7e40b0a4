"""updateHostPassword: the credentials kept for a KVM or XenServer host (services/infra/host_credentials)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.errors import ParamError
from management.services.context import CallContext
from management.services.infra import host_credentials


class UpdateHostPasswordParams(Params):
    hostid: Annotated[str | None, Ref("Host")] = Field(None, description="the host ID")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(None, description="the cluster ID")
    update_passwd_on_host: bool | None = Field(None, description="if the password should also be changed on the "
                                               "hosts (no host here runs the agent that would; ignored)")
    username: str = Field(description="the username for the host/cluster")
    password: str = Field(description="the new password for the host/cluster")


@api_command("updateHostPassword", params=UpdateHostPasswordParams, roles=ADMIN, event="HOST.UPDATE",
             description="Update password of a host/pool on management server.")
def update_host_password(ctx: CallContext, p: UpdateHostPasswordParams) -> Success:
    if p.clusterid is None:
        if p.hostid is None:
            raise ParamError("You should provide an host id.")
        host_credentials.update_host(ctx.session, ctx.refs["hostid"], p.username, p.password)
    else:
        host_credentials.update_cluster(ctx.session, ctx.refs["clusterid"], p.username, p.password)
    return Success()
