"""Management server maintenance and shutdown (plugins/maintenance): prepareForMaintenance, cancelMaintenance,
prepareForShutdown, cancelShutdown, readyForShutdown, triggerShutdown."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from management.api.cloudstack.registry import ADMIN, Params, Uuid, api_command
from management.api.cloudstack.schemas_platform import JobResp
from management.services.context import CallContext
from management.services.plugins import maintenance


class MaintenanceResp(JobResp):
    managementserverid: str = Field(description="The id of the management server")
    state: str = Field(description="the state of the management server")
    maintenanceinitiated: bool = Field(description="Indicates whether maintenance has been initiated")
    shutdowntriggered: bool = Field(description="Indicates whether a shutdown has been triggered")
    readyforshutdown: bool = Field(description="Indicates whether CloudStack is ready to shutdown")
    pendingjobscount: int = Field(description="The number of jobs in progress")
    agentscount: int = Field(description="The number of host agents this management server is responsible for")
    agents: list[str] = Field(default_factory=list, description="The host agents this management server is "
                              "responsible for")


def _resp(ctx: CallContext, msid: str) -> MaintenanceResp:
    st = maintenance.status(ctx.session, msid)
    return MaintenanceResp(managementserverid=st.msid, state=st.state, maintenanceinitiated=st.maintenance_initiated,
                           shutdowntriggered=st.shutdown_triggered, readyforshutdown=st.ready_for_shutdown,
                           pendingjobscount=st.pending_jobs, agentscount=len(st.agents), agents=st.agents)


class MsIdParams(Params):
    managementserverid: Uuid = Field(description="the id of the management server")


class PrepareForMaintenanceParams(MsIdParams):
    algorithm: str | None = Field(None, description="indirect agents load balancer algorithm (static, roundrobin, "
                                  "shuffle); when this is not set, already configured algorithm from setting "
                                  "'indirect.agent.lb.algorithm' is considered")
    forced: bool | None = Field(None, description="Force prepare for maintenance without checking pending jobs")


class CancelMaintenanceParams(MsIdParams):
    rebalance: bool | None = Field(None, description="Rebalance agents (applicable for indirect agents)")


def _register(name: str, params: type[Params], description: str, since: str, act: Any,
              event: str | None = None) -> None:
    def handler(ctx: CallContext, p: Any) -> MaintenanceResp:
        maintenance.server(ctx.session, p.managementserverid)  # 431 for an unknown server
        if act is not None:
            act(ctx, p)
        return _resp(ctx, p.managementserverid)

    api_command(name, params=params, result_key=name.lower(), response=MaintenanceResp, roles=ADMIN,
                event=event, since=since, description=description, read_only=event is None)(handler)


_register("readyForShutdown", MsIdParams, "Returns the status of CloudStack, whether a shutdown has been "
          "triggered and if ready to shutdown", "4.19.0", None)
_register("prepareForShutdown", MsIdParams, "Prepares CloudStack for a safe manual shutdown by preventing new jobs "
          "from being accepted", "4.19.0",
          lambda ctx, p: maintenance.prepare_for_shutdown(ctx.session, p.managementserverid),
          event="MS.SHUTDOWN.PREPARE")
_register("cancelShutdown", MsIdParams, "Cancels a triggered shutdown", "4.19.0",
          lambda ctx, p: maintenance.cancel_shutdown(ctx.session, p.managementserverid), event="MS.SHUTDOWN.CANCEL")
_register("triggerShutdown", MsIdParams, "Triggers an automatic safe shutdown of CloudStack by not accepting new "
          "jobs and shutting down when all pending jobbs have been completed. Triggers an immediate shutdown if "
          "forced", "4.19.0", lambda ctx, p: maintenance.trigger_shutdown(ctx.session, p.managementserverid),
          event="MS.SHUTDOWN.TRIGGER")
_register("prepareForMaintenance", PrepareForMaintenanceParams, "Prepares management server for maintenance by "
          "preventing new jobs from being accepted after completion of active jobs and migrating the agents",
          "4.21.0", lambda ctx, p: maintenance.prepare_for_maintenance(
              ctx.session, p.managementserverid, p.algorithm,
              stale_after=max(30.0, 6 * ctx.runtime.settings.heartbeat_interval)),
          event="MS.MAINTENANCE.PREPARE")
_register("cancelMaintenance", CancelMaintenanceParams, "Cancels maintenance of the management server", "4.21.0",
          lambda ctx, p: maintenance.cancel_maintenance(ctx.session, p.managementserverid),
          event="MS.MAINTENANCE.CANCEL")
