"""First-start seeds of the inventory: global settings, the OS catalogue, default service and disk offerings.

`seed_inventory(session)` is called by the bootstrap on every start; each part only adds what is missing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.models.offerings import OsCategory, OsType
from management.services import configuration
from management.services.compute import offerings

OS_CATEGORIES = ["CentOS", "Debian", "Oracle", "RedHat", "SUSE", "Windows", "Other", "Novel", "Unix", "Ubuntu",
                 "None"]

# (display name, category). "CentOS 5.6 (64-bit)" is the OS of CloudStack's simulator template.
OS_TYPES = [
    ("CentOS 5.6 (64-bit)", "CentOS"),
    ("CentOS 5.6 (32-bit)", "CentOS"),
    ("CentOS 7", "CentOS"),
    ("CentOS 8", "CentOS"),
    ("Debian GNU/Linux 10 (64-bit)", "Debian"),
    ("Debian GNU/Linux 11 (64-bit)", "Debian"),
    ("Debian GNU/Linux 12 (64-bit)", "Debian"),
    ("Ubuntu 20.04 LTS", "Ubuntu"),
    ("Ubuntu 22.04 LTS", "Ubuntu"),
    ("Ubuntu 24.04 LTS", "Ubuntu"),
    ("Red Hat Enterprise Linux 9", "RedHat"),
    ("Oracle Linux 9", "Oracle"),
    ("SUSE Linux Enterprise Server 15 (64-bit)", "SUSE"),
    ("Windows Server 2019 (64-bit)", "Windows"),
    ("Windows Server 2022 (64-bit)", "Windows"),
    ("FreeBSD 13 (64-bit)", "Unix"),
    ("Other Linux (32-bit)", "Other"),
    ("Other Linux (64-bit)", "Other"),
    ("Other (32-bit)", "Other"),
    ("Other (64-bit)", "Other"),
    ("Other PV (64-bit)", "Other"),
]


def seed_os_catalogue(session: Session) -> None:
    cats = {c.name: c for c in session.scalars(select(OsCategory))}
    for name in OS_CATEGORIES:
        if name not in cats:
            cats[name] = OsCategory(name=name)
            session.add(cats[name])
    session.flush()
    have = set(session.scalars(select(OsType.display_name)))
    for name, cat in OS_TYPES:
        if name not in have:
            session.add(OsType(display_name=name, category_id=cats[cat].id))
    session.flush()


def os_type_by_name(session: Session, name: str) -> OsType | None:
    return session.scalar(select(OsType).where(OsType.display_name == name))


def seed_inventory(session: Session) -> None:
    """Idempotent: settings, OS catalogue, offerings."""
    configuration.seed(session)
    seed_os_catalogue(session)
    offerings.seed(session)
    from management.services.network import network_offerings  # guest networks room

    network_offerings.seed(session)  # CloudStack's default network offerings (exact names, service maps)
    from management.services.compute import autoscale

    autoscale.ensure_counters(session)  # the virtual router's default autoscale counters
    from management.services.network import vpc

    vpc.seed(session)  # the stock VPC offerings and the default_allow/default_deny ACL lists
