"""ISOs in a VM's CD-ROM drive (attachIso / detachIso): a media change the running guest sees; a VM that has
never run gets the ISO when it first starts. The ISO is copied to the root disk's pool once (prepare_template),
then inserted through the driver contract's insert_cdrom / eject_cdrom."""

from __future__ import annotations

from sqlalchemy import select

from management.drivers.base import Capability
from management.drivers.errors import DriverError
from management.errors import InternalError, ParamError
from management.models.compute import VirtualMachine
from management.models.infra import Host, StoragePool, Zone
from management.models.storage import Template, Volume
from management.services.hypervisors import driver_for, tx
from management.services.infra import hosts as hosts_service
from management.services.runtime import Runtime
from management.services.storage import templates as templates_service


def _where(s, vm: VirtualMachine) -> tuple[Host | None, StoragePool | None]:  # type: ignore[no-untyped-def]
    host_id = vm.host_id or vm.last_host_id
    host = s.get(Host, host_id) if host_id else None
    root = s.scalar(select(Volume).where(Volume.instance_id == vm.id, Volume.volume_type == "ROOT",
                                         Volume.removed.is_(None)))
    pool = s.get(StoragePool, root.pool_id) if root is not None and root.pool_id else None
    return host, pool


def attach(runtime: Runtime, vm_id: int, iso_id: int) -> None:
    with tx(runtime) as s:
        vm, iso = s.get_one(VirtualMachine, vm_id), s.get_one(Template, iso_id)
        if iso.format != "ISO":
            raise ParamError(f"Invalid ISO id {iso.uuid}: it is a template")
        if vm.state not in ("Running", "Stopped"):
            raise ParamError(f"Unable to attach ISO to VM {vm.uuid} in state {vm.state}; it must be Running or "
                             "Stopped")
        if vm.iso_id is not None and vm.iso_id != iso.id:
            raise ParamError(f"VM {vm.uuid} already has an ISO attached; detach it first")
        zone = s.get_one(Zone, vm.zone_id)
        t_uuid, source = templates_service.source_for_pool(s, iso, zone)  # 534 unless ready in the zone
        host, pool = _where(s, vm)
        vm_uuid = vm.uuid
    if host is not None and pool is not None:
        try:
            d = driver_for(runtime, host)
            if d.get_domain(vm_uuid) is not None:
                if not d.supports(Capability.CDROM):
                    raise DriverError(f"the {d.name} driver has no CD-ROM drive support")
                d.ensure_pool(hosts_service.pool_spec(pool))
                d.prepare_template(pool.uuid, t_uuid, source)
                d.insert_cdrom(vm_uuid, pool.uuid, t_uuid)
        except DriverError as exc:
            raise InternalError(f"Failed to attach iso: {exc}") from None
    with tx(runtime) as s:
        s.get_one(VirtualMachine, vm_id).iso_id = iso_id


def detach(runtime: Runtime, vm_id: int) -> None:
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.iso_id is None:
            raise ParamError(f"The specified VM {vm.uuid} has no ISO attached to it")
        if vm.state not in ("Running", "Stopped"):
            raise ParamError(f"Unable to detach ISO from VM {vm.uuid} in state {vm.state}")
        host, _pool = _where(s, vm)
        vm_uuid = vm.uuid
    if host is not None:
        try:
            d = driver_for(runtime, host)
            if d.get_domain(vm_uuid) is not None and d.supports(Capability.CDROM):
                d.eject_cdrom(vm_uuid)
        except DriverError as exc:
            raise InternalError(f"Failed to detach iso: {exc}") from None
    with tx(runtime) as s:
        s.get_one(VirtualMachine, vm_id).iso_id = None
