"""Service and disk offerings: create, update, delete (soft), and the first-start seeds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.offerings import DiskOffering, ServiceOffering
from management.services import configuration

GiB = 1024 ** 3

# CloudStack's ConfigurationServerImpl seeds (name, cpu, MHz, MiB).
SEED_SERVICE_OFFERINGS = [
    ("Small Instance", 1, 500, 512, "Small Instance"),
    ("Medium Instance", 1, 1000, 1024, "Medium Instance"),
]
# (name, size GiB, customized, display text)
SEED_DISK_OFFERINGS = [
    ("Small", 5, False, "Small Disk, 5 GB"),
    ("Medium", 20, False, "Medium Disk, 20 GB"),
    ("Large", 100, False, "Large Disk, 100 GB"),
    ("Custom", 0, True, "Custom Disk"),
]


def seed(session: Session) -> None:
    """Adds the default offerings once (by name; an admin's later rename or delete is respected by `removed`)."""
    have = set(session.scalars(select(ServiceOffering.name).where(ServiceOffering.is_system.is_(False))))
    for i, (name, cpu, mhz, mem, text) in enumerate(SEED_SERVICE_OFFERINGS):
        if name not in have:
            session.add(ServiceOffering(name=name, display_text=text, cpu=cpu, speed=mhz, ram_size=mem,
                                        sort_key=i))
    have = set(session.scalars(select(DiskOffering.name)))
    for i, (name, gib, custom, text) in enumerate(SEED_DISK_OFFERINGS):
        if name not in have:
            session.add(DiskOffering(name=name, display_text=text, disk_size=gib * GiB, customized=custom,
                                     sort_key=i))
    session.flush()


def _check_storage_type(value: str | None) -> str:
    st = (value or "shared").lower()
    if st not in ("shared", "local"):
        raise ParamError(f"Invalid storage type {value}: shared or local")
    return st


def _check_max_disk_size(session: Session, size_gb: int | None) -> None:
    """A disk (offering) size in GB within storage.max.volume.size, as CloudStack checks both offerings."""
    limit = int(configuration.get_float(session, "storage.max.volume.size", 2000))
    if size_gb is not None and size_gb > limit:
        raise ParamError(f"The maximum size for a disk is {limit} GB.")


def create_service_offering(session: Session, *, name: str, displaytext: str | None, cpunumber: int | None,
                            cpuspeed: int | None, memory: int | None, customized: bool | None,
                            storagetype: str | None, hosttags: str | None, tags: str | None, offerha: bool,
                            limitcpuuse: bool, issystem: bool, systemvmtype: str | None,
                            rootdisksize: int | None) -> ServiceOffering:
    fixed = [v for v in (cpunumber, cpuspeed, memory) if v is not None]
    is_custom = bool(customized) if customized is not None else len(fixed) < 3
    if not is_custom and len(fixed) < 3:
        raise ParamError("For a fixed service offering cpunumber, cpuspeed and memory are all required")
    for label, v in (("cpunumber", cpunumber), ("cpuspeed", cpuspeed), ("memory", memory)):
        if v is not None and v <= 0:
            raise ParamError(f"Failed to create service offering {name}: specify {label} greater than 0")
    if issystem and systemvmtype not in ("domainrouter", "consoleproxy", "secondarystoragevm",
                                         "internalloadbalancervm"):
        raise ParamError("Invalid systemvmtype. Supported types are: domainrouter, consoleproxy, secondarystoragevm")
    _check_max_disk_size(session, rootdisksize)
    so = ServiceOffering(name=name, display_text=displaytext or name, cpu=cpunumber, speed=cpuspeed,
                         ram_size=memory, customized=is_custom, storage_type=_check_storage_type(storagetype),
                         host_tag=hosttags, tags=tags, offer_ha=offerha, limit_cpu_use=limitcpuuse,
                         is_system=issystem, system_vm_type=systemvmtype if issystem else None,
                         root_disk_size=rootdisksize * GiB if rootdisksize else None)
    session.add(so)
    session.flush()
    return so


def update_service_offering(session: Session, so: ServiceOffering, *, name: str | None, displaytext: str | None,
                            hosttags: str | None, storagetags: str | None, sortkey: int | None) -> ServiceOffering:
    if name is not None:
        so.name = name
    if displaytext is not None:
        so.display_text = displaytext
    if hosttags is not None:
        so.host_tag = hosttags or None
    if storagetags is not None:
        so.tags = storagetags or None
    if sortkey is not None:
        so.sort_key = sortkey
    session.flush()
    return so


def delete_service_offering(session: Session, so: ServiceOffering) -> None:
    """Soft delete, as CloudStack does: VMs using it keep working; it just can't be chosen any more."""
    if so.default_use:
        raise ParamError(f"Default system offering {so.name} can't be deleted")
    so.removed = utcnow()
    so.state = "Inactive"
    session.flush()


def create_disk_offering(session: Session, *, name: str, displaytext: str | None, disksize: int | None,
                         customized: bool | None, storagetype: str | None, tags: str | None,
                         provisioningtype: str | None, miniops: int | None, maxiops: int | None) -> DiskOffering:
    is_custom = bool(customized) if customized is not None else not disksize
    if not is_custom and not disksize:
        raise ParamError("Disksize is required for a non-customized disk offering")
    if disksize is not None and disksize <= 0:
        raise ParamError("Please specify a disk size of at least 1 GB")
    if is_custom and disksize:
        raise ParamError("Disksize must not be specified for a custom disk offering")
    _check_max_disk_size(session, disksize)
    do = DiskOffering(name=name, display_text=displaytext or name, disk_size=(disksize or 0) * GiB,
                      customized=is_custom, storage_type=_check_storage_type(storagetype), tags=tags,
                      provisioning_type=(provisioningtype or "thin").lower(), min_iops=miniops, max_iops=maxiops)
    session.add(do)
    session.flush()
    return do


def update_disk_offering(session: Session, do: DiskOffering, *, name: str | None, displaytext: str | None,
                         tags: str | None, sortkey: int | None) -> DiskOffering:
    if name is not None:
        do.name = name
    if displaytext is not None:
        do.display_text = displaytext
    if tags is not None:
        do.tags = tags or None
    if sortkey is not None:
        do.sort_key = sortkey
    session.flush()
    return do


def delete_disk_offering(session: Session, do: DiskOffering) -> None:
    do.removed = utcnow()
    do.state = "Inactive"
    session.flush()


def service_offering_in_use(session: Session, so: ServiceOffering) -> bool:
    return session.scalar(select(VirtualMachine.id).where(VirtualMachine.service_offering_id == so.id,
                                                          VirtualMachine.removed.is_(None)).limit(1)) is not None
