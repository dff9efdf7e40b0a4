"""Forgotten passwords (CloudStack 4.20's forgotPassword / resetPassword): with user.password.reset.enabled, a
reset token (valid user.password.reset.ttl minutes) is mailed through the configured SMTP server; resetPassword
with that token sets the new password. Without an SMTP server CloudStack cannot send the token and says so; the
same happens here."""

from __future__ import annotations

import smtplib
import uuid
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import CloudError, InternalError, PermissionDenied, ServerApiParamError
from management.models.identity import Account, Domain, User
from management.models.platform import ResourceDetail
from management.services import configuration
from management.services.identity import identity

configuration.SETTINGS.update({
    "user.password.reset.enabled": ("false", "Advanced", None, "Setting this to true allows the ACS user to "
                                    "request an email to reset their password"),
    "user.password.reset.ttl": ("30", "Advanced", None, "TTL in minutes for the token generated to reset the "
                                "ACS user's password"),
    "user.password.reset.email.sender": ("", "Advanced", None, "Sender for emails sent to the user to reset ACS "
                                         "user's password"),
    "user.password.reset.smtp.host": ("", "Advanced", None, "Host for SMTP server"),
    "user.password.reset.smtp.port": ("25", "Advanced", None, "Port for SMTP server"),
    "user.password.reset.smtp.useAuth": ("false", "Advanced", None, "Use auth in the SMTP server"),
    "user.password.reset.smtp.username": ("", "Advanced", None, "Username for SMTP server"),
    "user.password.reset.smtp.password": ("", "Secure", None, "Password for SMTP server"),
    "user.password.reset.mail.domain.url": ("", "Advanced", None, "Domain URL for reset password links sent to the "
                                            "user via email"),
})

TOKEN = "PasswordResetToken"
EXPIRY = "PasswordResetTokenExpiryDate"


class AccountError(CloudError):
    """ACCOUNT_ERROR: what the password reset authenticators answer for a request they refuse."""

    code = 531
    cs_code = None


def _path(domain: str | None) -> str:
    d = (domain or "/").strip()
    if d.upper().startswith("ROOT"):
        d = d[4:]
    d = "/" + d.strip("/") + "/" if d.strip("/") else "/"
    return d


def find_user(session: Session, username: str, domain: str | None) -> User:
    path = _path(domain)
    dom = session.scalar(select(Domain).where(Domain.path == path, Domain.removed.is_(None)))
    if dom is None:
        raise ServerApiParamError(f"Unable to find the domain from the path {path}")
    user = session.scalar(select(User).join(Account, Account.id == User.account_id).where(
        User.username == username, Account.domain_id == dom.id, User.removed.is_(None),
        Account.removed.is_(None), User.state == "enabled", Account.state == "enabled"))
    if user is None:
        raise AccountError("forgot password request failed for user, check if username/domain are correct")
    return user


def _detail(session: Session, user: User, name: str) -> ResourceDetail | None:
    return session.scalar(select(ResourceDetail).where(ResourceDetail.resource_type == "User",
                                                       ResourceDetail.resource_uuid == user.uuid,
                                                       ResourceDetail.name == name))


def _set_detail(session: Session, user: User, name: str, value: str) -> None:
    row = _detail(session, user, name)
    if row is None:
        row = ResourceDetail(resource_type="User", resource_uuid=user.uuid, name=name, value=value, display=False,
                             account_id=user.account_id, domain_id=user.account.domain_id)
        session.add(row)
    row.value = value


def _get(session: Session, name: str) -> str:
    return configuration.get(session, name, "") or ""


def forgot(session: Session, user: User) -> None:
    if _get(session, "user.password.reset.enabled").lower() != "true":
        raise AccountError("user.password.reset.enabled is false. Password reset for the user is not allowed.")
    if not user.email:
        raise AccountError("Email is not set for the user.")
    host = _get(session, "user.password.reset.smtp.host")
    port = int(_get(session, "user.password.reset.smtp.port") or 25)
    if not host or port <= 0:
        raise InternalError("Failed to reset token and send email. SMTP mail sender is not configured")
    now = utcnow()
    current, expiry = _detail(session, user, TOKEN), _detail(session, user, EXPIRY)
    if current is not None and current.value and expiry is not None and float(expiry.value) / 1000 > now.timestamp():
        return  # a token is already out and still valid: CloudStack does not send another one
    token = str(uuid.uuid4())
    ttl = float(_get(session, "user.password.reset.ttl") or 30)
    _set_detail(session, user, TOKEN, token)
    _set_detail(session, user, EXPIRY, str(int((now + timedelta(minutes=ttl)).timestamp() * 1000)))
    session.flush()
    link = f"/client/#/user/resetPassword?username={user.username}&token={token}"
    msg = EmailMessage()
    msg["Subject"] = "Password Reset Request"
    msg["From"] = _get(session, "user.password.reset.email.sender") or "cloudstack@localhost"
    msg["To"] = user.email
    msg.set_content(f"Hello {user.username}!\nYou have requested to reset your password. Please click the "
                    f"following link to reset your password:\n{_get(session, 'user.password.reset.mail.domain.url')}"
                    f"{link}\nIf you did not request a password reset, please ignore this email.\n\nRegards,\n"
                    "The CloudStack Team\n")
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            if _get(session, "user.password.reset.smtp.useAuth").lower() == "true":
                smtp.login(_get(session, "user.password.reset.smtp.username"),
                           _get(session, "user.password.reset.smtp.password"))
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise InternalError(f"Failed to send the password reset email: {exc}") from None


def reset(session: Session, user: User, token: str, password: str) -> None:
    stored, expiry = _detail(session, user, TOKEN), _detail(session, user, EXPIRY)
    if stored is None or expiry is None or not stored.value:
        raise ServerApiParamError(f"No reset token found for user {user.username}")
    if stored.value != token:
        raise ServerApiParamError(f"Invalid reset token for user {user.username}")
    if utcnow().timestamp() > float(expiry.value) / 1000:
        raise ServerApiParamError(f"Reset token has expired for user {user.username}")
    if not password:
        raise PermissionDenied("Password cannot be empty")
    user.password_hash = identity.hash_password(password)
    session.delete(stored)
    session.delete(expiry)
    session.flush()
