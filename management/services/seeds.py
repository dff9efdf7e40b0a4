"""First-start seeds of the inventory: global settings, the OS catalogue, default service and disk offerings.

`seed_inventory(session)` is called by the bootstrap on every start; each part only adds what is missing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.models.governance import HypervisorCapability
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


GUEST_OS = Path(__file__).resolve().parent.parent / "data" / "guest_os.tsv"


def stock_os_types() -> list[tuple[str, str]]:
    """CloudStack's stock guest OS catalogue (display name, category), from the packaged data file."""
    out = []
    for line in GUEST_OS.read_text().splitlines():
        if line and not line.startswith("#"):
            _id, cat, name = line.split("\t", 2)
            out.append((name, cat))
    return out


def seed_os_catalogue(session: Session) -> None:
    cats = {c.name: c for c in session.scalars(select(OsCategory))}
    for name in OS_CATEGORIES:
        if name not in cats:
            cats[name] = OsCategory(name=name)
            session.add(cats[name])
    session.flush()
    have = set(session.scalars(select(OsType.display_name)))
    for name, cat in OS_TYPES + stock_os_types():
        if name not in have:
            session.add(OsType(display_name=name, category_id=cats[cat].id))
            have.add(name)
    session.flush()


def os_type_by_name(session: Session, name: str) -> OsType | None:
    return session.scalar(select(OsType).where(OsType.display_name == name))


# (hypervisor, version, max guests, security groups, max data volumes, max hosts per cluster, storage motion,
#  VM snapshots): the stock rows of the hypervisors devcloud drives, with CloudStack's default values.
HYPERVISOR_CAPABILITIES = (
    ("KVM", "default", 50, True, 24, None, True, True),
    ("XenServer", "default", 50, True, 6, None, False, True),
    ("Simulator", "default", 50, True, 6, None, False, True),
    ("LXC", "default", 50, True, 6, None, False, False),
)


def seed_hypervisor_capabilities(session: Session) -> None:
    if session.scalar(select(HypervisorCapability.id).limit(1)) is not None:
        return
    for h, v, guests, sg, vols, hosts, motion, snaps in HYPERVISOR_CAPABILITIES:
        session.add(HypervisorCapability(hypervisor_type=h, hypervisor_version=v, max_guests_limit=guests,
                                         security_group_enabled=sg, max_data_volumes_limit=vols,
                                         max_hosts_per_cluster=hosts, storage_motion_supported=motion,
                                         vm_snapshot_enabled=snaps))
    session.flush()


def seed_inventory(session: Session) -> None:
    """Idempotent: settings, OS catalogue, hypervisor capabilities, offerings."""
    configuration.seed(session)
    seed_os_catalogue(session)
    seed_hypervisor_capabilities(session)
    offerings.seed(session)
    from management.services.network import network_offerings  # guest networks room

    network_offerings.seed(session)  # CloudStack's default network offerings (exact names, service maps)
    from management.services.compute import autoscale

    autoscale.ensure_counters(session)  # the virtual router's default autoscale counters
    from management.services.network import vpc

    vpc.seed(session)  # the stock VPC offerings and the default_allow/default_deny ACL lists
