"""Two-factor authentication of users (CloudStack 4.18's user 2FA): providers `totp` (RFC 6238 codes from an
authenticator app) and `staticpin` (a fixed PIN).

Flow: setupUserTwoFactorAuthentication enable=true stores a new key and returns it (the user adds it to the app);
validateUserTwoFactorAuthenticationCode confirms it. From then on a login session must pass a valid code before
any other command (HTTP 511 otherwise, and the session is dropped). A setup never confirmed is cleared at the next
login, as CloudStack does. With mandate.user.2fa on (and enable.user.2fa), every user must set it up first.
API-key requests are not subject to it, as in CloudStack (2FA guards the login sessions)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from sqlalchemy import delete
from sqlalchemy.orm import Session

from management.errors import CloudError, InternalError, ParamError
from management.models.identity import User, UserSession
from management.models.platform import SessionTwoFactor, UserTwoFactor
from management.services import configuration

configuration.SETTINGS.update({
    "enable.user.2fa": ("false", "Advanced", None, "Determines whether two factor authentication is enabled or "
                        "not. This can also be configured at domain level."),
    "mandate.user.2fa": ("false", "Advanced", None, "Determines whether to make the two factor authentication "
                         "mandatory or not. This setting is applicable only when enable.user.2fa is true. This can "
                         "also be configured at domain level."),
    "user.2fa.default.provider": ("totp", "Advanced", None, "The default user two factor authentication provider. "
                                  "Eg. totp, staticpin"),
    "user.2fa.issuer": ("CloudStack", "Advanced", None, "Name of the issuer of two factor authentication"),
})

PROVIDERS = {
    "totp": "TOTP user two factor authentication provider Plugin",
    "staticpin": "Static Pin user two factor authentication provider Plugin",
}

# Commands a login session may call before its second factor is checked (ApiServlet.skip2FAcheckForAPIs).
ALLOWED_BEFORE_CHECK = frozenset({"listApis", "listUserTwoFactorAuthenticatorProviders",
                                  "setupUserTwoFactorAuthentication", "validateUserTwoFactorAuthenticationCode",
                                  "logout", "listIdps"})

_NOT_SET_UP = ("Two factor authentication is mandated by admin, user needs to setup 2FA using "
               "setupUserTwoFactorAuthentication API and then verify 2FA using "
               "validateUserTwoFactorAuthenticationCode API before calling other APIs. Existing session is "
               "invalidated.")
_NOT_VERIFIED = ("Two factor authentication 2FA is enabled but not verified, please verify 2FA using "
                 "validateUserTwoFactorAuthenticationCode API before calling other APIs. Existing session is "
                 "invalidated.")


class TwoFactorError(CloudError):
    """UNAUTHORIZED2FA."""

    code = 511
    cs_code = None


class MethodNotAllowed(CloudError):
    code = 405
    cs_code = 9999


def _flag(session: Session, name: str) -> bool:
    return (configuration.get(session, name, "false") or "").lower() == "true"


def enabled(session: Session) -> bool:
    return _flag(session, "enable.user.2fa")


def mandated(session: Session) -> bool:
    return enabled(session) and _flag(session, "mandate.user.2fa")


def issuer(session: Session) -> str:
    return configuration.get(session, "user.2fa.issuer", "CloudStack") or "CloudStack"


def state(session: Session, user: User) -> UserTwoFactor | None:
    return session.get(UserTwoFactor, user.id)


def setup(session: Session, user: User, provider: str | None, enable: bool) -> str | None:
    """Enables (a new key, returned) or disables the user's second factor."""
    if not enabled(session):
        raise InternalError("2FA is not enabled for this domain or at global level")
    row = state(session, user)
    if not enable:
        if row is None or not row.enabled:
            raise ParamError("2FA is not enabled for the user")
        if mandated(session):
            raise ParamError("2FA is mandated by the admin; it cannot be disabled")
        session.delete(row)
        session.execute(delete(SessionTwoFactor).where(SessionTwoFactor.user_id == user.id))
        session.flush()
        return None
    name = (provider or configuration.get(session, "user.2fa.default.provider", "totp") or "totp").lower()
    if name not in PROVIDERS:
        raise InternalError(f"Failed to find two factor authentication provider by the name: {name}.")
    if row is None:
        row = UserTwoFactor(user_id=user.id)
        session.add(row)
    elif row.enabled and row.verified:
        raise ParamError("2FA is already setup for the user")
    key = pyotp.random_base32() if name == "totp" else f"{secrets.randbelow(10**6):06d}"
    row.enabled, row.provider, row.secret, row.verified, row.last_code_step = True, name, key, False, 0
    session.flush()
    return key


def clear_unfinished_setup(session: Session, user: User) -> None:
    """At login: a setup that was never confirmed with a code is thrown away (CloudStack does the same)."""
    row = state(session, user)
    if row is not None and row.enabled and not row.verified:
        session.delete(row)
        session.flush()


def required(session: Session, user: User) -> bool:
    row = state(session, user)
    return bool(row and row.enabled) or mandated(session)


def login_fields(session: Session, user: User) -> dict[str, str | None]:
    row = state(session, user)
    on = bool(row and row.enabled) or mandated(session)
    return {"is2faenabled": "true" if on else "false", "is2faverified": "false",
            "providerfor2fa": row.provider if row and row.enabled else None,
            "issuerfor2fa": issuer(session) if on else None}


def _digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def check_code(session: Session, user: User, code: str) -> None:
    """Raises TwoFactorError unless `code` is the user's current TOTP code (each used once) or static PIN."""
    row = state(session, user)
    if row is None or not row.enabled or not row.secret:
        raise TwoFactorError("two factor authentication is not setup for the user")
    if row.provider == "staticpin":
        if not hmac.compare_digest(code.strip(), row.secret):
            raise TwoFactorError("two-factor authentication code provided is invalid")
    else:
        totp = pyotp.TOTP(row.secret)
        now = time.time()
        step = None
        for offset in (0, -1, 1):  # one step of clock skew either way
            at = now + offset * totp.interval
            if hmac.compare_digest(totp.at(at), code.strip()):
                step = int(at // totp.interval)
                break
        if step is None or step <= row.last_code_step:
            raise TwoFactorError("two-factor authentication code provided is invalid")
        row.last_code_step = step
    row.verified = True
    session.flush()


def validate_session(session: Session, user: User, session_key: str, code: str) -> None:
    if not code:
        from management.errors import PermissionDenied

        raise PermissionDenied("Code for two factor authentication is required")
    try:
        check_code(session, user, code)
    except TwoFactorError:
        setup_phase = bool((row := state(session, user)) and row.enabled and not row.verified)
        if not setup_phase:
            drop_session(session, session_key)
        raise
    if session.get(SessionTwoFactor, _digest(session_key)) is None:
        session.add(SessionTwoFactor(session_digest=_digest(session_key), user_id=user.id))
    session.flush()


def session_verified(session: Session, session_key: str) -> bool:
    return session.get(SessionTwoFactor, _digest(session_key)) is not None


def refusal(session: Session, user: User) -> TwoFactorError:
    row = state(session, user)
    text = _NOT_VERIFIED if row is not None and row.enabled and row.secret else _NOT_SET_UP
    return TwoFactorError(f"Unable to process the API request due to :{text}")


def drop_session(session: Session, session_key: str) -> None:
    """Invalidates a login session (the dispatcher's session table keeps the key it was issued with)."""
    session.execute(delete(SessionTwoFactor).where(SessionTwoFactor.session_digest == _digest(session_key)))
    for candidate in {session_key, _digest(session_key)}:
        row = session.get(UserSession, candidate)
        if row is not None:
            session.delete(row)
    session.flush()
