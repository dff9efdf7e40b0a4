"""listSystemVms as what exists: devcloud runs no secondary-storage or console-proxy VM (templates are served by
the management server, consoles by its own proxy) and its virtual routers are not system VMs in CloudStack's
sense (listRouters shows them), so the list is always empty — with CloudStack's filters checked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, Ref, Uuid, api_command
from management.api.cloudstack.schemas import Resp
from management.errors import invalid_id
from management.services.context import CallContext


class SystemVmResp(Resp):
    id: str = Field(description="the ID of the system VM")
    name: str = Field(description="the name of the system VM")
    systemvmtype: str = Field(description="the system VM type")
    state: str = Field(description="the state of the system VM")
    agentstate: str | None = Field(None, description="the agent state of the system VM")
    zoneid: str | None = Field(None, description="the Zone ID for the system VM")
    zonename: str | None = Field(None, description="the Zone name for the system VM")
    podid: str | None = Field(None, description="the Pod ID for the system VM")
    hostid: str | None = Field(None, description="the host ID for the system VM")
    hostname: str | None = Field(None, description="the hostname for the system VM")
    publicip: str | None = Field(None, description="the public IP address for the system VM")
    privateip: str | None = Field(None, description="the private IP address for the system VM")
    linklocalip: str | None = Field(None, description="the link local IP address for the system vm")
    templateid: str | None = Field(None, description="the template ID for the system VM")
    created: datetime | None = Field(None, description="the date and time the system VM was created")


class ListSystemVmsParams(ListParams):
    id: Uuid | None = Field(None, description="the ID of the system VM")
    name: str | None = Field(None, description="the name of the system VM")
    state: str | None = Field(None, description="the state of the system VM")
    systemvmtype: str | None = Field(None, description="the system VM type. Possible types are "
                                     "\"consoleproxy\" and \"secondarystoragevm\".")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID of the system VM")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="the Pod ID of the system VM")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="the host ID of the system VM")
    storageid: Annotated[str | None, Ref("StoragePool", "read")] = Field(
        None, description="the storage ID where vm's volumes belong to")
    arch: str | None = Field(None, description="CPU Arch of the system VM")


@api_command("listSystemVms", params=ListSystemVmsParams, result_key="systemvm", response=SystemVmResp,
             roles=ADMIN, description="List system virtual machines.")
def list_system_vms(ctx: CallContext, p: ListSystemVmsParams) -> ListResult:
    if p.id:  # no system VM exists, so no id names one
        raise invalid_id(p.id)
    return ListResult([], 0)
