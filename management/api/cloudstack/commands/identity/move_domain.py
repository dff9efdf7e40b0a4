"""moveDomain: a domain and its subdomains get a new parent."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.identity.identity import domain_resp
from management.api.cloudstack.registry import DOMAIN_ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas import DomainResp
from management.services.context import CallContext
from management.services.identity import domain_move


class MoveDomainParams(Params):
    domainid: Annotated[str, Ref("Domain", "read")] = Field(description="The ID of the domain to be moved.")
    parentdomainid: Annotated[str, Ref("Domain", "read")] = Field(description="The ID of the new parent domain of "
                                                                  "the domain to be moved.")


@api_command("moveDomain", params=MoveDomainParams, result_key="domain", response=DomainResp, roles=DOMAIN_ADMIN,
             entity="Domain", event="DOMAIN.MOVE", since="4.19.0.0",
             description="Moves a domain and its children to a new parent domain.")
def move_domain(ctx: CallContext, p: MoveDomainParams) -> DomainResp:
    moved = domain_move.move(ctx.session, ctx.caller, ctx.refs["domainid"], ctx.refs["parentdomainid"])
    return domain_resp(ctx, moved)
