"""Console access: createConsoleEndpoint (CloudStack 4.18's shape: a url plus a websocket token) and the serial
log of a VM as a text fallback (getVirtualMachineConsoleLog)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from management.api import console
from management.api.cloudstack.registry import Params, Ref, api_command
from management.errors import InvalidStateTransition
from management.services import console_sessions
from management.services.context import CallContext


class ConsoleWebsocketResp(BaseModel):
    token: str = Field(description="the console websocket token (valid for a short time)")
    host: str | None = Field(None, description="the console websocket host (empty: the API host)")
    port: str | None = Field(None, description="the console websocket port (empty: the API port)")
    path: str = Field(description="the console websocket path")
    extra: str | None = Field(None, description="the console websocket extra field for validation (if enabled)")


class ConsoleEndpointResp(BaseModel):
    success: bool = Field(description="true if the console endpoint is generated properly")
    details: str | None = Field(None, description="details in case of an error")
    url: str | None = Field(None, description="the console url")
    websocket: ConsoleWebsocketResp | None = Field(None, description="the console websocket options")


class CreateConsoleEndpointParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of the VM")
    token: str | None = Field(None, description="(optional) extra security token, valid when the extra validation "
                              "is enabled")


@api_command("createConsoleEndpoint", params=CreateConsoleEndpointParams, result_key="consoleendpoint",
             response=ConsoleEndpointResp, event="VM.CONSOLE", entity="VirtualMachine", since="4.18.0",
             description="Create a console endpoint to connect to a VM console")
def create_console_endpoint(ctx: CallContext, p: CreateConsoleEndpointParams) -> ConsoleEndpointResp:
    vm = ctx.refs["virtualmachineid"]
    if vm.state != "Running":
        raise InvalidStateTransition(f"VM {vm.uuid} is {vm.state}: its console is available only when Running")
    token, _exp = console.issue_token(ctx.runtime.settings.state_dir, ctx.caller.user_uuid, vm.uuid)
    console_sessions.issued(ctx.session, ctx.caller, vm, token)
    path = console.WS_PATH
    return ConsoleEndpointResp(
        success=True, url=f"/client/#/console/{vm.uuid}?token={token}",
        websocket=ConsoleWebsocketResp(token=token, path=path, extra=p.token))


class ConsoleLogResp(BaseModel):
    id: str = Field(description="the ID of the virtual machine")
    log: str = Field(description="the tail of the VM's serial console log (empty when its host keeps none)")


class GetConsoleLogParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of the VM")
    bytes: int | None = Field(None, description="how many bytes of the end of the log to return (default 65536, "
                              "at most 1 MiB)")


@api_command("getVirtualMachineConsoleLog", params=GetConsoleLogParams, result_key="consolelog",
             response=ConsoleLogResp, description="The serial console log of a VM (a text fallback of the console)")
def get_console_log(ctx: CallContext, p: GetConsoleLogParams) -> Any:
    vm = ctx.refs["virtualmachineid"]
    tail = max(1, min(p.bytes or 65536, 1024 * 1024))
    return ConsoleLogResp(id=vm.uuid, log=console.serial_log(ctx.runtime, vm, tail))
