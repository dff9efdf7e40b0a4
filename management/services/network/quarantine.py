"""Public IP quarantine (CloudStack 4.19): a released public IP stays out of other accounts' reach for
``public.ip.address.quarantine.duration`` minutes, so a freshly released address cannot be picked up by someone
else while DNS records or firewall allow-lists elsewhere still point at it. Its previous owner may take it back
at any time (which ends the quarantine); an admin may shorten, extend or end it.

Also here: reserving a free public IP for an account (reserveIpAddress) and releasing a reserved one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError
from management.models.addressing import PublicIpQuarantine
from management.models.identity import Account
from management.models.infra import PublicIpAddress, VlanIpRange
from management.services import configuration

DURATION = "public.ip.address.quarantine.duration"
SYSTEM_ACCOUNT_ID = 1


def active(session: Session, ip_id: int, now: datetime | None = None) -> PublicIpQuarantine | None:
    now = now or utcnow()
    return session.scalar(select(PublicIpQuarantine).where(
        PublicIpQuarantine.public_ip_address_id == ip_id, PublicIpQuarantine.removed.is_(None),
        PublicIpQuarantine.end_date > now).order_by(PublicIpQuarantine.id.desc()).limit(1))


def blocked_for(account_id: int, now: datetime | None = None) -> Select[Any]:
    """SQL: ids of public IPs quarantined against ``account_id`` (quarantined, previous owner someone else)."""
    now = now or utcnow()
    return select(PublicIpQuarantine.public_ip_address_id).where(
        PublicIpQuarantine.removed.is_(None), PublicIpQuarantine.end_date > now,
        PublicIpQuarantine.previous_owner_id != account_id)


def on_allocate(session: Session, ip: PublicIpAddress, account: Account) -> None:
    """Called once ``ip`` is taken by ``account``: its previous owner taking it back ends the quarantine."""
    q = active(session, ip.id)
    if q is not None and q.previous_owner_id == account.id:
        end(session, q, "IP was removed from quarantine because it has been allocated by the previous owner", None)


def on_release(session: Session, ip: PublicIpAddress, caller_account_id: int | None = None) -> None:
    """Called while ``ip`` (still showing its owner) is being released."""
    if ip.account_id is None or ip.account_id == SYSTEM_ACCOUNT_ID:
        return
    try:
        minutes = int(configuration.get(session, DURATION) or 0)
    except ValueError:
        minutes = 0
    if minutes <= 0:
        return
    now = utcnow()
    session.add(PublicIpQuarantine(public_ip_address_id=ip.id, previous_owner_id=ip.account_id, created=now,
                                   end_date=now + timedelta(minutes=minutes)))
    session.flush()


def end(session: Session, q: PublicIpQuarantine, reason: str, remover_account_id: int | None) -> PublicIpQuarantine:
    q.removed = utcnow()
    q.removal_reason = reason
    q.remover_account_id = remover_account_id
    session.flush()
    return q


def find(session: Session, quarantine_uuid: str | None, ip_address: str | None) -> PublicIpQuarantine:
    """The quarantine named by id, else the current one of the address (CloudStack's retrievePublicIpQuarantine)."""
    if quarantine_uuid is None and not ip_address:
        raise ParamError("Either the ID or the address of the public IP must be informed.")
    if quarantine_uuid is not None:
        q = session.scalar(select(PublicIpQuarantine).where(PublicIpQuarantine.uuid == quarantine_uuid))
        if q is None:
            raise ParamError(f"There is no quarantine with ID [{quarantine_uuid}].")
        return q
    ip = session.scalar(select(PublicIpAddress).where(PublicIpAddress.public_ip_address == ip_address,
                                                      PublicIpAddress.removed.is_(None)))
    q = active(session, ip.id) if ip is not None else None
    if q is None:
        raise ParamError(f"There is no active quarantine for the public IP address [{ip_address}].")
    return q


def set_end_date(session: Session, q: PublicIpQuarantine, end_date: datetime) -> PublicIpQuarantine:
    if end_date <= utcnow():
        raise ParamError(f"The given end date [{end_date:%Y-%m-%d %H:%M:%S}] is invalid as it is before the "
                         "current date.")
    if q.removed is not None:
        raise ParamError("The quarantine of this public IP address has already ended.")
    q.end_date = end_date
    session.flush()
    return q


# ------------------------------------------------------------------------------------------------ reservations

def reserve(session: Session, ip: PublicIpAddress, account: Account, for_display: bool | None) -> PublicIpAddress:
    vlan = session.get(VlanIpRange, ip.vlan_id)
    if vlan is not None and vlan.vlan_type != "VirtualNetwork":
        raise ParamError("only ip addresses that belong to a virtual network may be reserved.")
    if ip.is_portable:
        raise ParamError("Unable to reserve a portable IP.")
    if ip.state == "Reserved":
        if ip.account_id == account.id:
            return ip
        raise ParamError("Unable to reserve a IP because it has already been reserved for another account.")
    if ip.state != "Free":
        raise ParamError(f"Unable to reserve a IP in {ip.state} state.")
    if vlan is not None and vlan.account_id is not None and vlan.account_id != account.id:
        raise ParamError("Unable to reserve a IP because it is dedicated to another account.")
    if vlan is not None and vlan.account_id is None and vlan.domain_id is not None \
            and vlan.domain_id != account.domain_id:
        raise ParamError("Unable to reserve a IP because it is dedicated to another domain.")
    q = active(session, ip.id)
    if q is not None and q.previous_owner_id != account.id:
        raise ParamError(f"Unable to reserve a IP because it is in quarantine until {q.end_date:%Y-%m-%d %H:%M:%S}.")
    ip.state, ip.account_id, ip.domain_id, ip.allocated = "Reserved", account.id, account.domain_id, utcnow()
    if for_display is not None:
        ip.for_display = for_display
    on_allocate(session, ip, account)
    session.flush()
    return ip


def release_reserved(session: Session, ip: PublicIpAddress) -> None:
    if ip.is_portable:
        raise ParamError("Unable to release a portable IP, please use disassociateIpAddress instead")
    if ip.state == "Allocated":
        raise ParamError("Unable to release a public IP in Allocated state, please use disassociateIpAddress "
                         "instead")
    if ip.allocated is None:
        return
    if ip.is_system:
        raise ParamError("Can't release system IP address with specified id")
    ip.state, ip.account_id, ip.domain_id, ip.network_id, ip.allocated = "Free", None, None, None, None
    session.flush()
