"""GUI themes (CloudStack 4.21): CSS and JSON configuration the UI applies, by the host name it is reached at
(common names, wildcards allowed), or for given domains (optionally their sub-domains) and accounts; public themes
apply to everyone."""

from __future__ import annotations

import fnmatch
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError
from management.models.identity import Account, Domain
from management.models.platform import GuiTheme
from management.services.context import Caller


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def validate(session: Session, *, json_configuration: str | None, domain_uuids: str | None,
             account_uuids: str | None) -> None:
    if json_configuration:
        try:
            parsed = json.loads(json_configuration)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ParamError("The JSON attribute is not a valid JSON object")
    for uuid in _csv(domain_uuids):
        if session.scalar(select(Domain.id).where(Domain.uuid == uuid, Domain.removed.is_(None))) is None:
            raise ParamError(f"Unable to find domain with ID [{uuid}]")
    for uuid in _csv(account_uuids):
        if session.scalar(select(Account.id).where(Account.uuid == uuid, Account.removed.is_(None))) is None:
            raise ParamError(f"Unable to find account with ID [{uuid}]")


def applies_to(session: Session, theme: GuiTheme, caller: Caller | None, common_name: str | None) -> bool:
    if theme.is_public:
        return True
    if common_name and any(fnmatch.fnmatch(common_name.lower(), cn.lower()) for cn in _csv(theme.common_names)):
        return True
    if caller is None:
        return False
    if caller.account_uuid in _csv(theme.account_uuids):
        return True
    for uuid in _csv(theme.domain_uuids):
        dom = session.scalar(select(Domain).where(Domain.uuid == uuid))
        if dom is None:
            continue
        if dom.id == caller.domain_id or (theme.recursive_domains and caller.domain_path.startswith(dom.path)):
            return True
    return False


def remove(theme: GuiTheme) -> None:
    theme.removed = utcnow()
