"""The SYSTEM account's user, which background work (alerts, schedulers, HA) acts as. Kept apart from the identity
family so that low-level services can name it without importing everything identity depends on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.models.identity import Account, User

SYSTEM_ACCOUNT = "system"


def system_user(session: Session) -> User:
    return session.scalars(select(User).join(Account, User.account_id == Account.id)
                           .where(Account.name == SYSTEM_ACCOUNT, User.username == "system",
                                  Account.removed.is_(None))).one()
