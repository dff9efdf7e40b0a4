"""isAccountAllowedToCreateOfferingsWithTags and markDefaultZoneForAccount."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas import AccountResp
from management.api.cloudstack.schemas_tenancy import AllowedWithTagsResp
from management.models.identity import Account, AccountType
from management.models.infra import Zone
from management.services import access, configuration
from management.services.context import CallContext


class AllowedWithTagsParams(Params):
    id: Annotated[str, Ref("Account", "read")] = Field(description="Account UUID")


@api_command("isAccountAllowedToCreateOfferingsWithTags", params=AllowedWithTagsParams,
             result_key="isaccountallowedtocreateofferingswithtags", response=AllowedWithTagsResp,
             description="Return true if the specified account is allowed to create offerings with tags.")
def is_account_allowed(ctx: CallContext, p: AllowedWithTagsParams) -> AllowedWithTagsResp:
    acct: Account = ctx.refs["id"]
    if acct.account_type == AccountType.ADMIN:
        return AllowedWithTagsResp(isallowed=True)
    if acct.account_type not in (AccountType.DOMAIN_ADMIN, AccountType.RESOURCE_DOMAIN_ADMIN):
        return AllowedWithTagsResp(isallowed=False)
    value = configuration.get(ctx.session, "allow.domain.admins.to.create.tagged.offerings", "false",
                              scope=("account", acct.id))
    return AllowedWithTagsResp(isallowed=(value or "false").lower() == "true")


class MarkDefaultZoneParams(Params):
    account: str = Field(description="Name of the account that is to be marked.")
    domainid: Annotated[str, Ref("Domain", "read")] = Field(description="Marks the account that belongs to the "
                                                            "specified domain.")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="The Zone ID with which the account is to be "
                                                        "marked.")


@api_command("markDefaultZoneForAccount", params=MarkDefaultZoneParams, result_key="account", response=AccountResp,
             is_async=True, roles=ADMIN, event="ACCOUNT.MARK.DEFAULT.ZONE", entity="Account", since="4.0",
             description="Marks a default zone for this account")
def mark_default_zone(ctx: CallContext, p: MarkDefaultZoneParams) -> AccountResp:
    from management.api.cloudstack.commands.identity.identity import account_resp

    acct = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    zone: Zone = ctx.refs["zoneid"]
    acct.default_zone_id = zone.id
    ctx.session.flush()
    return account_resp(ctx, acct)
