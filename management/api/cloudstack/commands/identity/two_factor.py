"""Two-factor authentication: listUserTwoFactorAuthenticatorProviders, setupUserTwoFactorAuthentication,
validateUserTwoFactorAuthenticationCode (the dispatcher answers it for login sessions)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.errors import PermissionDenied
from management.models.identity import User
from management.services.context import CallContext
from management.services.identity import two_factor


class ProviderResp(JobResp):
    name: str = Field(description="the user two factor authenticator provider name")
    description: str = Field(description="the description of the user two factor authenticator provider")


class ListProvidersParams(Params):
    name: str | None = Field(None, description="List user two factor authenticator provider by name")


@api_command("listUserTwoFactorAuthenticatorProviders", params=ListProvidersParams, result_key="providers",
             response=ProviderResp, since="4.18.0", description="Lists user two factor authenticator providers")
def list_providers(ctx: CallContext, p: ListProvidersParams) -> ListResult:
    items = [ProviderResp(name=n, description=d) for n, d in two_factor.PROVIDERS.items()
             if p.name is None or p.name.lower() == n]
    return ListResult(items, len(items))


class SetupResp(JobResp):
    id: str | None = Field(None, description="the user ID")
    username: str | None = Field(None, description="the user name")
    accountid: str | None = Field(None, description="the account ID of the user")
    secretcode: str | None = Field(None, description="secret code that needs to be registered with authenticator")


class SetupParams(Params):
    provider: str | None = Field(None, description="two factor authentication code")
    enable: bool = Field(True, description="Enabled by default, provide false to disable 2FA")
    userid: Annotated[str | None, Ref("User")] = Field(None, description="optional: the id of the user for which "
                                                       "2FA has to be disabled")


@api_command("setupUserTwoFactorAuthentication", params=SetupParams, result_key="setup2fa", response=SetupResp,
             entity="User", event="USER.2FA.SETUP", since="4.18.0",
             description="Setup the 2FA for the user.")
def setup(ctx: CallContext, p: SetupParams) -> SetupResp:
    user: User = ctx.refs.get("userid") or ctx.session.get_one(User, ctx.caller.user_id)
    if user.id != ctx.caller.user_id and p.enable:
        raise PermissionDenied("Only the user itself can enable 2FA; an admin may only disable it for another user")
    code = two_factor.setup(ctx.session, user, p.provider, p.enable)
    return SetupResp(id=user.uuid, username=user.username, accountid=user.account.uuid, secretcode=code)


class ValidateParams(Params):
    codefor2fa: str = Field(description="two factor authentication code")


@api_command("validateUserTwoFactorAuthenticationCode", params=ValidateParams, response=SuccessResp,
             since="4.18.0", read_only=True, description="Checks the 2FA code for the user.")
def validate(ctx: CallContext, p: ValidateParams) -> None:
    # Reached only without a login session (API keys): CloudStack answers this authenticator the same way.
    raise two_factor.MethodNotAllowed("This is an authentication api, cannot be used directly")
