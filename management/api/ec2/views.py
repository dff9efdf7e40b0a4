"""A lean read projection of the caller's VMs for DescribeInstances.

listVirtualMachines builds a full CloudStack response per VM (~0.3 ms each); DescribeInstances over 1,000
instances needs a handful of columns. This reads exactly those, with the SAME visibility rules as
listVirtualMachines (``access.owned_filter`` for the caller's own account, user VMs only, not removed, Destroyed/
Expunging hidden from non-admins) — a query, no business logic; tests/api/test_ec2.py checks both views agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.models.compute import VirtualMachine
from management.models.events import ResourceTag
from management.models.infra import PublicIpAddress, Zone
from management.models.jobs import AsyncJob
from management.models.network import Network, Nic
from management.models.offerings import ServiceOffering
from management.models.storage import Snapshot, Template, Volume
from management.services import access
from management.services.context import Caller

# A VM with one of these jobs queued or running is already in the EC2 transition state its caller was told about
# (RunInstances returns `pending` while the new VM still reads Stopped until its deploy job starts it).
IN_FLIGHT = {"deployVirtualMachine": "Starting", "startVirtualMachine": "Starting",
             "stopVirtualMachine": "Stopping", "destroyVirtualMachine": "Expunging"}


def in_flight(session: Session, vm_uuids: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for uuid, command in session.execute(
            select(AsyncJob.instance_uuid, AsyncJob.command).where(
                AsyncJob.status == 0, AsyncJob.instance_type == "VirtualMachine",
                AsyncJob.command.in_(list(IN_FLIGHT)), AsyncJob.instance_uuid.in_(vm_uuids)).order_by(AsyncJob.id)):
        assert uuid is not None  # matched by the IN filter on instance_uuid
        out[uuid] = IN_FLIGHT[command]
    return out


def vm_rows(session: Session, caller: Caller) -> list[dict[str, Any]]:
    """Dicts with the listVirtualMachines field names instance_of() reads (id, name, state, created, ...)."""
    base = select(VirtualMachine.id).where(VirtualMachine.removed.is_(None), VirtualMachine.vm_type == "User")
    base = access.owned_filter(session, base, VirtualMachine, caller, account=None, domainid=None,
                               isrecursive=False, listall=False)
    if not caller.is_admin:
        base = base.where(VirtualMachine.state.not_in(("Destroyed", "Expunging")))
    ids = base.subquery()
    stmt = (select(VirtualMachine.id, VirtualMachine.uuid, VirtualMachine.name, VirtualMachine.state,
                   VirtualMachine.created, VirtualMachine.keypairs, VirtualMachine.cpu, Template.uuid,
                   ServiceOffering.name, Zone.name)
            .outerjoin(Template, Template.id == VirtualMachine.template_id)
            .outerjoin(ServiceOffering, ServiceOffering.id == VirtualMachine.service_offering_id)
            .outerjoin(Zone, Zone.id == VirtualMachine.zone_id)
            .where(VirtualMachine.id.in_(select(ids.c.id))).order_by(VirtualMachine.id))
    rows: dict[int, dict[str, Any]] = {}
    uuid_of: dict[str, dict[str, Any]] = {}
    for vid, uuid, name, state, created, kps, cpu, tmpl, so, zone in session.execute(stmt):
        kp = next((k for k in (kps or "").split(",") if k), None)
        d = {"id": uuid, "name": name, "state": state, "created": created, "keypair": kp, "cpunumber": cpu,
             "templateid": tmpl, "serviceofferingname": so, "zonename": zone, "nic": [], "tags": []}
        rows[vid] = d
        uuid_of[uuid] = d
    if not rows:
        return []
    vm_uuids = select(VirtualMachine.uuid).where(VirtualMachine.id.in_(select(ids.c.id)))
    for uuid, state in in_flight(session, vm_uuids).items():
        if uuid in uuid_of:
            uuid_of[uuid]["state"] = state
    for inst, ip, net, default in session.execute(
            select(Nic.instance_id, Nic.ip4_address, Network.uuid, Nic.default_nic)
            .outerjoin(Network, Network.id == Nic.network_id)
            .where(Nic.instance_id.in_(select(ids.c.id)), Nic.removed.is_(None)).order_by(Nic.device_id)):
        if inst in rows:
            rows[inst]["nic"].append({"ipaddress": ip, "networkid": net, "isdefault": bool(default)})
    for ruuid, key, value in session.execute(
            select(ResourceTag.resource_uuid, ResourceTag.key, ResourceTag.value)
            .where(ResourceTag.resource_type == "UserVm", ResourceTag.resource_uuid.in_(vm_uuids))
            .order_by(ResourceTag.id)):
        if ruuid in uuid_of:
            uuid_of[ruuid]["tags"].append({"key": key, "value": value})
    for vm_id, ip in session.execute(
            select(PublicIpAddress.vm_id, PublicIpAddress.public_ip_address)
            .where(PublicIpAddress.one_to_one_nat.is_(True), PublicIpAddress.removed.is_(None),
                   PublicIpAddress.vm_id.in_(select(ids.c.id)))):
        if vm_id in rows:
            rows[vm_id]["publicip"] = ip
    for uuid, vols in volumes_of(session, select(ids.c.id)).items():
        uuid_of[uuid]["_volumes"] = vols
    from management.services.network.security_groups import groups_of

    for vm_id, groups in groups_of(session, list(rows)).items():
        rows[vm_id]["_groups"] = [(g.uuid, g.name) for g in groups]
    return list(rows.values())


def volumes_of(session: Session, vm_ids: Any) -> dict[str, list[dict[str, Any]]]:
    """VM uuid -> its volumes (root first, then by device id): what the instance's block device mapping shows."""
    out: dict[str, list[dict[str, Any]]] = {}
    for vm_uuid, uuid, vtype, dev, attached, created in session.execute(
            select(VirtualMachine.uuid, Volume.uuid, Volume.volume_type, Volume.device_id, Volume.attached,
                   Volume.created)
            .join(VirtualMachine, VirtualMachine.id == Volume.instance_id)
            .where(Volume.instance_id.in_(vm_ids), Volume.removed.is_(None))
            .order_by(Volume.instance_id, Volume.device_id, Volume.id)):
        out.setdefault(vm_uuid, []).append({"id": uuid, "type": vtype, "deviceid": dev,
                                            "attached": attached or created})
    return out


def image_snapshots(session: Session, template_uuids: list[str]) -> dict[str, str]:
    """Template uuid -> the uuid of the snapshot it was created from (CreateImage's root snapshot)."""
    if not template_uuids:
        return {}
    return {t: snap for t, snap in session.execute(
        select(Template.uuid, Snapshot.uuid).join(Snapshot, Snapshot.id == Template.source_snapshot_id)
        .where(Template.uuid.in_(template_uuids)))}
