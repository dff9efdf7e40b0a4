"""Global settings: listConfigurations and updateConfiguration (global, or zone/cluster scoped)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, ParamInfo, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_infra import ConfigurationResp
from management.errors import ParamError
from management.models.events import Configuration
from management.services import configuration
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate


def conf_resp(c: Configuration, value: str | None = None, scope: str | None = None) -> ConfigurationResp:
    return ConfigurationResp(category=c.category, name=c.name, value=c.value if value is None else value,
                             defaultvalue=c.default_value, description=c.description, scope=scope or c.scope,
                             isdynamic=c.is_dynamic, component=c.component)


class ListConfigurationsParams(ListParams):
    name: str | None = Field(None, description="lists configuration by name")
    category: str | None = Field(None, description="lists configurations by category")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the Zone to update the "
                                                               "parameter value for corresponding zone")
    clusterid: Annotated[str | None, Ref("Cluster", "read")] = Field(None, description="the ID of the Cluster to "
                                                                     "update the parameter value for corresponding "
                                                                     "cluster")
    storageid: Uuid | None = Field(None, description="the ID of the Storage pool to update the parameter value for "
                                  "corresponding storage pool")
    accountid: Uuid | None = Field(None, description="the ID of the Account to update the parameter value for "
                                  "corresponding account")
    domainid: Uuid | None = Field(None, description="the ID of the Domain to update the parameter value for "
                                 "corresponding domain")


@api_command("listConfigurations", params=ListConfigurationsParams, result_key="configuration",
             response=ConfigurationResp, roles=ADMIN, description="Lists all configurations.")
def list_configurations(ctx: CallContext, p: ListConfigurationsParams) -> ListResult:
    stmt = select(Configuration).where(Configuration.category != "Hidden")
    if p.name:
        stmt = stmt.where(Configuration.name == p.name)
    if p.category:
        stmt = stmt.where(Configuration.category.ilike(p.category))
    zone, cluster = ctx.refs.get("zoneid"), ctx.refs.get("clusterid")
    if cluster is not None:
        stmt = stmt.where(Configuration.scope == "cluster")
    elif zone is not None:
        stmt = stmt.where(Configuration.scope == "zone")
    stmt = keyword_filter(stmt, p.keyword, Configuration.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Configuration.name)
    out = []
    for c in rows:
        if cluster is not None or zone is not None:
            value = configuration.get(ctx.session, c.name, zone=zone, cluster=cluster)
            out.append(conf_resp(c, value, "cluster" if cluster is not None else "zone"))
        else:
            out.append(conf_resp(c))
    return ListResult(out, count)


class UpdateConfigurationParams(Params):
    name: str = Field(description="the name of the configuration")
    value: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="the value of the configuration")
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="the ID of the Zone to update the parameter "
                                                       "value for corresponding zone")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(None, description="the ID of the Cluster to update the "
                                                             "parameter value for corresponding cluster")
    storageid: Uuid | None = Field(None, description="the ID of the Storage pool to update the parameter value for "
                                  "corresponding storage pool")
    accountid: Uuid | None = Field(None, description="the ID of the Account to update the parameter value for "
                                  "corresponding account")
    domainid: Uuid | None = Field(None, description="the ID of the Domain to update the parameter value for "
                                 "corresponding domain")


@api_command("updateConfiguration", params=UpdateConfigurationParams, result_key="configuration",
             response=ConfigurationResp, roles=ADMIN, event="CONFIGURATION.VALUE.EDIT", entity="Configuration",
             description="Updates a configuration.")
def update_configuration(ctx: CallContext, p: UpdateConfigurationParams) -> ConfigurationResp:
    if p.storageid or p.accountid or p.domainid:
        raise ParamError("Storage pool, account and domain scoped settings are not supported; use "
                                       "the global value, zoneid or clusterid")
    row = configuration.set_value(ctx.session, p.name, p.value, zone=ctx.refs.get("zoneid"),
                                  cluster=ctx.refs.get("clusterid"))
    return conf_resp(row)
