"""Settings: listConfigurations, updateConfiguration and resetConfiguration (global, or scoped to a zone, cluster,
storage pool, image store, domain or account), listConfigurationGroups."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, ParamInfo, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_infra import ConfigurationResp
from management.api.cloudstack.schemas_tenancy import ConfigurationGroupResp
from management.errors import ParamError
from management.models.events import Configuration
from management.services import access, configuration
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name


def conf_resp(c: Configuration, value: str | None = None, scope: str | None = None) -> ConfigurationResp:
    known = configuration.catalogue().get(c.name)
    return ConfigurationResp(category=c.category, name=c.name, value=c.value if value is None else value,
                             defaultvalue=c.default_value, description=c.description, scope=scope or c.scope,
                             isdynamic=c.is_dynamic, component=c.component,
                             type=known.type if known else None)


def _scope_target(ctx: CallContext, p: Any, write: bool) -> tuple[str, int] | None:
    """(scope, row id) named by storageid/imagestoreuuid/domainid/accountid, if any."""
    kind = "write" if write else "read"
    for param, scope, entity in (("storageid", "storagepool", "StoragePool"),
                                 ("imagestoreuuid", "imagestore", "ImageStore"),
                                 ("imagestoreid", "imagestore", "ImageStore"),
                                 ("domainid", "domain", "Domain"), ("accountid", "account", "Account")):
        value = getattr(p, param, None)
        if value:
            return scope, access.resolve(ctx.session, ctx.caller, entity, value, kind).id
    return None


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
    imagestoreuuid: Uuid | None = Field(None, description="the ID of the Image Store to update the parameter value "
                                       "for corresponding image store")
    group: str | None = Field(None, description="lists configuration by group name (primarily used for UI)")
    subgroup: str | None = Field(None, description="lists configuration by subgroup name (primarily used for UI)")
    parent: str | None = Field(None, description="lists configuration by parent name (primarily used for UI)")


@api_command("listConfigurations", params=ListConfigurationsParams, result_key="configuration",
             response=ConfigurationResp, roles=ADMIN, description="Lists all configurations.")
def list_configurations(ctx: CallContext, p: ListConfigurationsParams) -> ListResult:
    stmt = select(Configuration).where(Configuration.category != "Hidden")
    if p.name:
        stmt = stmt.where(same_name(Configuration.name, p.name))
    if p.category:
        stmt = stmt.where(Configuration.category.ilike(p.category))
    zone, cluster = ctx.refs.get("zoneid"), ctx.refs.get("clusterid")
    target = _scope_target(ctx, p, write=False)
    if target is not None:
        stmt = stmt.where(Configuration.scope == target[0])
    elif cluster is not None:
        stmt = stmt.where(Configuration.scope == "cluster")
    elif zone is not None:
        stmt = stmt.where(Configuration.scope == "zone")
    if p.group:
        stmt = stmt.where(Configuration.category.ilike(p.group))
    stmt = keyword_filter(stmt, p.keyword, Configuration.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Configuration.name)
    out = []
    for c in rows:
        if target is not None:
            out.append(conf_resp(c, configuration.get(ctx.session, c.name, scope=target), target[0]))
        elif cluster is not None or zone is not None:
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
    imagestoreuuid: Uuid | None = Field(None, description="the ID of the Image Store to update the parameter value "
                                       "for corresponding image store")


@api_command("updateConfiguration", params=UpdateConfigurationParams, result_key="configuration",
             response=ConfigurationResp, roles=ADMIN, event="CONFIGURATION.VALUE.EDIT", entity="Configuration",
             description="Updates a configuration.")
def update_configuration(ctx: CallContext, p: UpdateConfigurationParams) -> ConfigurationResp:
    target = _scope_target(ctx, p, write=True)
    if target is not None:
        return conf_resp(configuration.set_scoped(ctx.session, target[0], target[1], p.name, p.value))
    row = configuration.set_value(ctx.session, p.name, p.value, zone=ctx.refs.get("zoneid"),
                                  cluster=ctx.refs.get("clusterid"))
    return conf_resp(row)


class ResetConfigurationParams(Params):
    name: str = Field(description="the name of the configuration")
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="the ID of the Zone to reset the parameter "
                                                       "value for corresponding zone")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(None, description="the ID of the Cluster to reset the "
                                                             "parameter value for corresponding cluster")
    storageid: Uuid | None = Field(None, description="the ID of the Storage pool to reset the parameter value for "
                                  "corresponding storage pool")
    domainid: Uuid | None = Field(None, description="the ID of the Domain to reset the parameter value for "
                                 "corresponding domain")
    accountid: Uuid | None = Field(None, description="the ID of the Account to reset the parameter value for "
                                  "corresponding account")
    imagestoreid: Uuid | None = Field(None, description="the ID of the Image Store to reset the parameter value for "
                                     "corresponding image store")


@api_command("resetConfiguration", params=ResetConfigurationParams, result_key="configuration",
             response=ConfigurationResp, roles=ADMIN, event="CONFIGURATION.VALUE.EDIT", entity="Configuration",
             since="4.16.0", description="Resets a configuration. The configuration will be set to default value for "
             "global setting, and removed from account_details or domain_details for Account/Domain settings")
def reset_configuration(ctx: CallContext, p: ResetConfigurationParams) -> ConfigurationResp:
    row = ctx.session.get(Configuration, p.name)
    if row is None:
        raise ParamError(f"Config parameter with name {p.name} doesn't exist")
    target = _scope_target(ctx, p, write=True)
    if target is not None:
        return conf_resp(configuration.set_scoped(ctx.session, target[0], target[1], p.name, None))
    zone, cluster = ctx.refs.get("zoneid"), ctx.refs.get("clusterid")
    if zone is not None or cluster is not None:
        value = row.default_value if cluster is not None and p.name in ("cpu.overprovisioning.factor",
                                                                       "mem.overprovisioning.factor") else None
        scoped = configuration.set_value(ctx.session, p.name, value, zone=zone, cluster=cluster)
        return conf_resp(scoped, row.value if zone is not None else None)
    return conf_resp(configuration.set_value(ctx.session, p.name, row.default_value))


class ListConfigurationGroupsParams(ListParams):
    group: str | None = Field(None, description="lists configuration group by group name")


@api_command("listConfigurationGroups", params=ListConfigurationGroupsParams, result_key="configurationgroup",
             response=ConfigurationGroupResp, roles=ADMIN, since="4.18.0",
             description="Lists all configuration groups (primarily used for UI).")
def list_configuration_groups(ctx: CallContext, p: ListConfigurationGroupsParams) -> ListResult:
    names = sorted({c for c in ctx.session.scalars(select(Configuration.category).distinct()) if c != "Hidden"})
    if p.group:
        names = [n for n in names if n.lower() == p.group.lower()]
    if p.keyword:
        names = [n for n in names if p.keyword.lower() in n.lower()]
    items = [ConfigurationGroupResp(name=n, description=f"{n} settings", precedence=i + 1,
                                    subgroup=[{"name": "Others", "precedence": 999}])
             for i, n in enumerate(names)]
    return ListResult(items, len(items))
