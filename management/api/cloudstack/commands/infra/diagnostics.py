"""runDiagnostics (ping, traceroute or arping from a system VM) and getDiagnosticsData (its files and network state
as a zip in an image store): services/network/router_diagnostics."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas import Resp
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.network import router_diagnostics


class RunDiagnosticsResp(Resp):
    stdout: str | None = Field(None, description="the standard output from the command execution")
    stderr: str | None = Field(None, description="the standard error output from the command execution")
    exitcode: str | None = Field(None, description="the command execution return code")


class RunDiagnosticsParams(Params):
    targetid: Annotated[str, Ref("DomainRouter")] = Field(description="the ID of the system VM instance to "
                                                          "diagnose")
    ipaddress: str = Field(description="the IP/Domain address to test connection to")
    type: str = Field(description="the system VM diagnostics type: ping, traceroute or arping")
    params: str | None = Field(None, description="additional command line options that apply for each command")


@api_command("runDiagnostics", params=RunDiagnosticsParams, result_key="diagnostics", response=RunDiagnosticsResp,
             roles=ADMIN, is_async=True, event="SYSTEM.VM.DIAGNOSTICS", entity="DomainRouter", since="4.12.0.0",
             description="Execute network-utility command (ping/arping/tracert) on system VMs remotely")
def run_diagnostics(ctx: CallContext, p: RunDiagnosticsParams) -> RunDiagnosticsResp:
    kind = router_diagnostics.kind_of(p.type)
    vm = ctx.refs["targetid"]
    vm_service.release(ctx.session)
    out = router_diagnostics.run(ctx.session, vm, kind, p.ipaddress.strip(), p.params)
    return vm_service.done(ctx.session, RunDiagnosticsResp(stdout=out.stdout, stderr=out.stderr,
                                                           exitcode=str(out.exitcode)))


class GetDiagnosticsDataResp(Resp):
    url: str | None = Field(None, description="Storage URL to download retrieve diagnostics data files")


class GetDiagnosticsDataParams(Params):
    targetid: Annotated[str, Ref("DomainRouter")] = Field(description="the ID of the system VM instance to retrieve "
                                                          "the diagnostics data files from")
    files: list[str] | None = Field(None, description="a comma separated list of the router's files to collect "
                                    "instead of all of them (its network state is always included)")


@api_command("getDiagnosticsData", params=GetDiagnosticsDataParams, result_key="diagnostics",
             response=GetDiagnosticsDataResp, roles=ADMIN, is_async=True, event="SYSTEM.VM.DIAGNOSTICS",
             entity="DomainRouter", since="4.14.0.0",
             description="Get diagnostics and files from system VMs")
def get_diagnostics_data(ctx: CallContext, p: GetDiagnosticsDataParams) -> GetDiagnosticsDataResp:
    vm = ctx.refs["targetid"]
    vm_service.release(ctx.session)
    path = router_diagnostics.collect(ctx.session, vm, [f.strip() for f in p.files or [] if f.strip()])
    return vm_service.done(ctx.session, GetDiagnosticsDataResp(url=path.as_uri()))
