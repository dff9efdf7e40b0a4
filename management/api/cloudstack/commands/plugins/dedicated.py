"""Dedicated resources (plugins/dedicated-resources): dedicate/list/release zones, pods, clusters and hosts.
Placement keeps other owners' VMs off a dedicated resource."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, create_model
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.errors import ParamError
from management.models.identity import Account, Domain
from management.models.infra import Cluster, Host, Pod, Zone
from management.models.platform import DedicatedResource
from management.services.context import CallContext
from management.services.listing import paginate, rows_by_id
from management.services.plugins import dedication

_MODELS: dict[str, Any] = {"zone": Zone, "pod": Pod, "cluster": Cluster, "host": Host}


def _resp_model(kind: str) -> type[JobResp]:
    fields: dict[str, Any] = {
        "id": (str, Field(description="the ID of the dedicated resource")),
        f"{kind}id": (str, Field(description=f"the ID of the {kind}")),
        f"{kind}name": (str, Field(description=f"the name of the {kind}")),
        "domainid": (str, Field(description=f"the domain ID to which the {kind} is dedicated")),
        "accountid": (str | None, Field(None, description=f"the Account Id to which the {kind} is dedicated")),
        "affinitygroupid": (str | None, Field(None, description="the Dedication Affinity Group ID of the "
                                              f"{kind}")),
    }
    return create_model(f"Dedicate{kind.capitalize()}Resp", __base__=JobResp, **fields)  # type: ignore[call-overload,no-any-return]


RESPONSES = {kind: _resp_model(kind) for kind in dedication.KINDS}


def _responses(ctx: CallContext, kind: str, rows: list[DedicatedResource]) -> list[JobResp]:
    s = ctx.session
    targets = rows_by_id(s, _MODELS[kind], (getattr(r, f"{kind}_id") for r in rows))
    domains = rows_by_id(s, Domain, (r.domain_id for r in rows))
    accounts = rows_by_id(s, Account, (r.account_id for r in rows))
    out = []
    for r in rows:
        target = targets[getattr(r, f"{kind}_id")]
        acct = accounts.get(r.account_id)
        out.append(RESPONSES[kind](**{"id": r.uuid, f"{kind}id": target.uuid, f"{kind}name": target.name,
                                      "domainid": domains[r.domain_id].uuid,
                                      "accountid": acct.uuid if acct is not None else None}))
    return out


def _register(kind: str) -> None:
    noun = kind.capitalize()
    ref = Annotated[str, Ref(noun)]
    dedicate_params = create_model(  # type: ignore[call-overload]
        f"Dedicate{noun}Params", __base__=Params,
        **{f"{kind}id": (ref, Field(description=f"the ID of the {kind}")),
           "domainid": (Annotated[str, Ref("Domain")], Field(description="the ID of the containing domain")),
           "account": (str | None, Field(None, description="the name of the account which needs dedication. Must "
                                         "be used with domainId."))})

    def do_dedicate(ctx: CallContext, p: Any) -> ListResult:
        row = ctx.refs[f"{kind}id"]
        dr = dedication.dedicate(ctx.session, ctx.caller, kind, row, ctx.refs["domainid"], p.account)
        return ListResult(_responses(ctx, kind, [dr]), 1)

    api_command(f"dedicate{noun}", params=dedicate_params, result_key=f"dedicated{kind}", response=RESPONSES[kind],
                is_async=True, roles=ADMIN, entity=noun, event="DEDICATE.RESOURCE",
                description=f"Dedicates a {kind}.")(do_dedicate)

    release_params = create_model(f"ReleaseDedicated{noun}Params", __base__=Params,  # type: ignore[call-overload]
                                  **{f"{kind}id": (ref, Field(description=f"the ID of the {kind}"))})

    def do_release(ctx: CallContext, p: Any) -> Success:
        dedication.release(ctx.session, kind, ctx.refs[f"{kind}id"])
        return Success()

    api_command(f"releaseDedicated{noun}", params=release_params, response=SuccessResp, is_async=True,
                roles=ADMIN, entity=noun, event="DEDICATE.RESOURCE.RELEASE",
                description=f"Release the dedication for {kind}")(do_release)

    list_params = create_model(  # type: ignore[call-overload]
        f"ListDedicated{noun}sParams", __base__=ListParams,
        **{f"{kind}id": (Annotated[str | None, Ref(noun, "read")], Field(None, description=f"the ID of the {kind}")),
           "domainid": (Annotated[str | None, Ref("Domain", "read")],
                        Field(None, description=f"the ID of the domain associated with the {kind}")),
           "account": (str | None, Field(None, description=f"the name of the account associated with the {kind}. "
                                         "Must be used with domainId.")),
           "affinitygroupid": (Uuid | None, Field(None, description=f"list dedicated {kind}s by affinity group"))})

    def do_list(ctx: CallContext, p: Any) -> ListResult:
        col = getattr(DedicatedResource, f"{kind}_id")
        stmt = select(DedicatedResource).where(col.is_not(None))
        target = ctx.refs.get(f"{kind}id")
        if target is not None:
            stmt = stmt.where(col == target.id)
        domain = ctx.refs.get("domainid")
        if p.account is not None:
            if domain is None:
                raise ParamError(f"Please specify the domain id of the account: {p.account}")
            acct = ctx.session.scalar(select(Account.id).where(Account.name == p.account,
                                                               Account.domain_id == domain.id,
                                                               Account.removed.is_(None)))
            stmt = stmt.where(DedicatedResource.account_id == acct)
        if domain is not None:
            stmt = stmt.where(DedicatedResource.domain_id == domain.id)
        if p.affinitygroupid is not None:
            stmt = stmt.where(DedicatedResource.id.is_(None))  # dedications here form no affinity groups
        rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, DedicatedResource.id)
        return ListResult(_responses(ctx, kind, rows), count)

    api_command(f"listDedicated{noun}s", params=list_params, result_key=f"dedicated{kind}", response=RESPONSES[kind],
                roles=ADMIN, description=f"Lists dedicated {kind}s.")(do_list)


for _kind in dedication.KINDS:
    _register(_kind)
