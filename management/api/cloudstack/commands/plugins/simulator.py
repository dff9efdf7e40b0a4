"""The simulator's commands (plugins/hypervisors/simulator): configureSimulator, querySimulatorMock,
cleanupSimulatorMock, configureSimulatorHAProviderState, listSimulatorHAStateTransitions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import Flat, ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Long, ParamInfo, Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.drivers import simulator_mocks
from management.errors import InternalError
from management.services.context import CallContext
from management.services.plugins import simulator


class MockResp(JobResp):
    id: int | None = Field(None, description="the mock ID")
    zoneid: int | None = Field(None, description="the Zone ID scope of the mock")
    podid: int | None = Field(None, description="the Pod ID scope of the mock")
    clusterid: int | None = Field(None, description="the Cluster ID scope of the mock")
    hostid: int | None = Field(None, description="the Host ID scope of the mock")
    name: str | None = Field(None, description="the agent command to be mocked")
    count: int | None = Field(None, description="number of times mock is executed, if not specified then mock "
                              "remains active till cleaned up")


def _mock_body(mock: simulator_mocks.Mock) -> Flat:
    # CloudStack names this response "simulatormock" and puts the mock's fields right under it.
    return Flat({"id": mock.id, "zoneid": mock.zone_id, "podid": mock.pod_id, "clusterid": mock.cluster_id,
                 "hostid": mock.host_id, "name": mock.name, "count": mock.count})


class ConfigureSimulatorParams(Params):
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="configure range: in a zone")
    podid: Annotated[str | None, Ref("Pod")] = Field(None, description="configure range: in a pod")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(None, description="configure range: in a cluster")
    hostid: Annotated[str | None, Ref("Host")] = Field(None, description="configure range: in a host")
    name: str = Field(description="which command needs to be configured")
    value: str = Field(description="configuration options for this command, which is separated by ;")
    count: int | None = Field(None, description="number of times the mock is active")
    jsonresponse: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="agent command response to be returned")


@api_command("configureSimulator", params=ConfigureSimulatorParams, response=MockResp, roles=ADMIN,
             event="SIMULATOR.CONFIGURE", description="configure simulator")
def configure_simulator(ctx: CallContext, p: ConfigureSimulatorParams) -> Flat:
    mock = simulator.configure(ctx.session, name=p.name, value=p.value, count=p.count,
                               json_response=p.jsonresponse, zone=ctx.refs.get("zoneid"), pod=ctx.refs.get("podid"),
                               cluster=ctx.refs.get("clusterid"), host=ctx.refs.get("hostid"))
    return _mock_body(mock)


class MockIdParams(Params):
    id: Long | None = Field(None, description="id of the configured mock")


@api_command("querySimulatorMock", params=MockIdParams, response=MockResp, roles=ADMIN,
             description="query simulator mock")
def query_simulator_mock(ctx: CallContext, p: MockIdParams) -> Flat:
    mock = simulator_mocks.get(p.id) if p.id is not None else None
    if mock is None:
        raise InternalError("Failed to query mock")
    return _mock_body(mock)


@api_command("cleanupSimulatorMock", params=MockIdParams, response=SuccessResp, roles=ADMIN,
             event="SIMULATOR.CLEANUP", description="cleanup simulator mock")
def cleanup_simulator_mock(ctx: CallContext, p: MockIdParams) -> Success:
    if p.id is None or not simulator_mocks.remove(p.id):
        raise InternalError("Failed to cleanup mock")
    return Success()


class HaProviderStateParams(Params):
    hostid: Annotated[str, Ref("Host")] = Field(description="List by host ID")
    health: bool = Field(description="Set true is haprovider for simulator host should be healthy")
    activity: bool = Field(description="Set true is haprovider for simulator host should have activity")
    recover: bool = Field(description="Set true is haprovider for simulator host should be recoverable")
    fence: bool = Field(description="Set true is haprovider for simulator host should be fence-able")


@api_command("configureSimulatorHAProviderState", params=HaProviderStateParams, response=SuccessResp,
             roles=ADMIN, entity="Host", event="SIMULATOR.HA.CONFIGURE", since="4.11",
             description="configures simulator HA provider state for a host for probing and testing")
def configure_ha_state(ctx: CallContext, p: HaProviderStateParams) -> Success:
    simulator.set_ha_state(ctx.refs["hostid"].id, healthy=p.health, activity=p.activity, recover=p.recover,
                           fence=p.fence)
    return Success()


class HaStateResp(JobResp):
    hastate: str | None = Field(None, description="the ha state")
    prevhastate: str | None = Field(None, description="the previous ha state")
    event: str | None = Field(None, description="the event that caused state transition")
    activitycounter: int | None = Field(None, description="the activity counter")
    recoverycounter: int | None = Field(None, description="the recovery counter")


class ListHaTransitionsParams(ListParams):
    hostid: Annotated[str, Ref("Host", "read")] = Field(description="host ID")


@api_command("listSimulatorHAStateTransitions", params=ListHaTransitionsParams, result_key="hastatetransition",
             response=HaStateResp, roles=ADMIN, since="4.11",
             description="list recent simulator HA state transitions for a host for probing and testing")
def list_ha_transitions(ctx: CallContext, p: ListHaTransitionsParams) -> ListResult:
    items = simulator.ha_transitions(ctx.refs["hostid"].id)
    return ListResult(items, len(items))
