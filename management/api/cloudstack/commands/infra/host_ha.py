"""Host HA and host health: configureHAForHost, enable/disableHAForHost, enable/disableHAForCluster,
enable/disableHAForZone, listHostHAProviders, listHostHAResources, declareHostAsDegraded, cancelHostAsDegraded."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.infra.hosts import host_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import HostResp
from management.api.cloudstack.schemas_platform import JobResp
from management.models.ha_config import HAConfig
from management.models.infra import Host
from management.services.context import CallContext
from management.services.ha import config as ha_config
from management.services.infra import degraded


class HostHAResp(JobResp):
    hostid: str | None = Field(None, description="the ID of the host")
    haenable: bool | None = Field(None, description="if host HA is enabled for the host")
    hastate: str | None = Field(None, description="the HA state of the host")
    haprovider: str | None = Field(None, description="the host HA provider")
    status: bool | None = Field(None, description="operation status")


def _ha_resp(host: Host, cfg: HAConfig | None, status: bool | None = None) -> HostHAResp:
    return HostHAResp(hostid=host.uuid, haenable=cfg.enabled if cfg else False,
                      hastate=cfg.ha_state if cfg else "Disabled", haprovider=cfg.provider if cfg else None,
                      status=status)


class ConfigureHAForHostParams(Params):
    hostid: Annotated[str, Ref("Host")] = Field(description="ID of the host")
    provider: str = Field(description="HA provider")


@api_command("configureHAForHost", params=ConfigureHAForHostParams, result_key="hostha", response=HostHAResp,
             roles=ADMIN, is_async=True, entity="Host", event="HA.RESOURCE.CONFIGURE", since="4.11",
             description="Configures HA for a host")
def configure_ha_for_host(ctx: CallContext, p: ConfigureHAForHostParams) -> HostHAResp:
    host: Host = ctx.refs["hostid"]
    return _ha_resp(host, ha_config.configure(ctx.session, host, p.provider), status=True)


class HostIdParams(Params):
    hostid: Annotated[str, Ref("Host")] = Field(description="ID of the host")


@api_command("enableHAForHost", params=HostIdParams, result_key="hostha", response=HostHAResp, roles=ADMIN,
             is_async=True, entity="Host", event="HA.RESOURCE.ENABLE", since="4.11",
             description="Enables HA for a host")
def enable_ha_for_host(ctx: CallContext, p: HostIdParams) -> HostHAResp:
    host: Host = ctx.refs["hostid"]
    return _ha_resp(host, ha_config.set_host(ctx.session, host, True), status=True)


@api_command("disableHAForHost", params=HostIdParams, result_key="hostha", response=HostHAResp, roles=ADMIN,
             is_async=True, entity="Host", event="HA.RESOURCE.DISABLE", since="4.11",
             description="Disables HA for a host")
def disable_ha_for_host(ctx: CallContext, p: HostIdParams) -> HostHAResp:
    host: Host = ctx.refs["hostid"]
    return _ha_resp(host, ha_config.set_host(ctx.session, host, False), status=True)


class ClusterIdParams(Params):
    clusterid: Annotated[str, Ref("Cluster")] = Field(description="ID of the cluster")


@api_command("enableHAForCluster", params=ClusterIdParams, roles=ADMIN, is_async=True, entity="Cluster",
             event="HA.RESOURCE.ENABLE", since="4.11", description="Enables HA cluster-wide")
def enable_ha_for_cluster(ctx: CallContext, p: ClusterIdParams) -> Success:
    ha_config.set_partition(ctx.session, ha_config.CLUSTER, ctx.refs["clusterid"], True)
    return Success()


@api_command("disableHAForCluster", params=ClusterIdParams, roles=ADMIN, is_async=True, entity="Cluster",
             event="HA.RESOURCE.DISABLE", since="4.11", description="Disables HA cluster-wide")
def disable_ha_for_cluster(ctx: CallContext, p: ClusterIdParams) -> Success:
    ha_config.set_partition(ctx.session, ha_config.CLUSTER, ctx.refs["clusterid"], False)
    return Success()


class ZoneIdParams(Params):
    zoneid: Annotated[str, Ref("Zone")] = Field(description="ID of the zone")


@api_command("enableHAForZone", params=ZoneIdParams, roles=ADMIN, is_async=True, entity="Zone",
             event="HA.RESOURCE.ENABLE", since="4.11", description="Enables HA for a zone")
def enable_ha_for_zone(ctx: CallContext, p: ZoneIdParams) -> Success:
    ha_config.set_partition(ctx.session, ha_config.ZONE, ctx.refs["zoneid"], True)
    return Success()


@api_command("disableHAForZone", params=ZoneIdParams, roles=ADMIN, is_async=True, entity="Zone",
             event="HA.RESOURCE.DISABLE", since="4.11", description="Disables HA for a zone")
def disable_ha_for_zone(ctx: CallContext, p: ZoneIdParams) -> Success:
    ha_config.set_partition(ctx.session, ha_config.ZONE, ctx.refs["zoneid"], False)
    return Success()


class ListHostHAProvidersParams(Params):
    hypervisor: str = Field(description="Hypervisor type of the resource")


@api_command("listHostHAProviders", params=ListHostHAProvidersParams, result_key="haprovider",
             response=HostHAResp, roles=ADMIN, since="4.11", description="Lists HA providers")
def list_host_ha_providers(ctx: CallContext, p: ListHostHAProvidersParams) -> ListResult:
    names = ha_config.provider_names(p.hypervisor)
    return ListResult([HostHAResp(haprovider=n) for n in names], len(names))


class ListHostHAResourcesParams(Params):
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="List by host ID")


@api_command("listHostHAResources", params=ListHostHAResourcesParams, result_key="hostha", response=HostHAResp,
             roles=ADMIN, since="4.11", description="Lists host HA resources")
def list_host_ha_resources(ctx: CallContext, p: ListHostHAResourcesParams) -> ListResult:
    rows = ha_config.host_configs(ctx.session, ctx.refs.get("hostid"))
    return ListResult([_ha_resp(h, c) for h, c in rows], len(rows))


class DegradedHostParams(Params):
    id: Annotated[str, Ref("Host")] = Field(description="host ID")


@api_command("declareHostAsDegraded", params=DegradedHostParams, result_key="host", response=HostResp,
             roles=ADMIN, is_async=True, entity="Host", event="HOST.DECLARE.DEGRADED", since="4.16.0.0",
             description="Declare host as 'Degraded'. Host must be on 'Disconnected' or 'Alert' state; it takes no "
             "VMs until the mark is cancelled.")
def declare_host_as_degraded(ctx: CallContext, p: DegradedHostParams) -> HostResp:
    return host_resp(degraded.declare(ctx.session, ctx.refs["id"]))


@api_command("cancelHostAsDegraded", params=DegradedHostParams, result_key="host", response=HostResp,
             roles=ADMIN, is_async=True, entity="Host", event="HOST.CANCEL.DEGRADED", since="4.16.0.0",
             description="Cancel host status from 'Degraded'. Host will transit back to status 'Enabled'.")
def cancel_host_as_degraded(ctx: CallContext, p: DegradedHostParams) -> HostResp:
    return host_resp(degraded.cancel(ctx.session, ctx.refs["id"]))
