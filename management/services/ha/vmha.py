"""VM HA: VMs of an offering with `offerha=true` (`haenable` on the VM) come back when they stop without being asked.

- Their host was declared Down (and fenced) by host HA: every VM it ran is Stopped in the database (its capacity
  on the dead host given back); an HA VM gets a `startVirtualMachine` job of the SYSTEM account, which places it on
  another Up host (the dead one is not Up); a non-HA VM stays Stopped. An alert for each.
- It crashed, or was stopped from inside, on a healthy host (VM sync saw the Running VM's domain stop, e.g. the
  libvirt lifecycle event "stopped: failed" after its QEMU died): the same restart job, which starts it again
  where its disks are.

Restarts are jobs: they run exactly once (services/ha/takeover.py) and show in listAsyncJobs.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from management import fsm, placement
from management.db.base import utcnow
from management.errors import CloudError
from management.fsm import VmEvent
from management.models.compute import VirtualMachine
from management.models.infra import Host
from management.models.jobs import AsyncJob
from management.services import alerting
from management.services.compute import vmsync
from management.services.ha import takeover
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

MiB = 1024 * 1024
START_CLASS = "org.apache.cloudstack.api.command.startVirtualMachineCmd"
ON_HOST = ("Running", "Stopping")


def _wake(runtime: Runtime) -> None:
    wake = runtime.extras.get(takeover.WAKE)
    if wake is not None:
        wake()


def schedule_restart(runtime: Runtime, vm_id: int, why: str) -> str | None:
    """Queues a SYSTEM startVirtualMachine job for an HA VM (unless one is pending); returns the job uuid."""
    from management.services.identity import identity

    with runtime.db.session() as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.removed is not None or not vm.ha_enabled or vm.state != "Stopped":
            return None
        pending = s.scalar(select(AsyncJob.id).where(AsyncJob.instance_uuid == vm.uuid, AsyncJob.status == 0)
                           .limit(1))
        if pending is not None:
            return None
        system = identity.system_user(s)
        job = AsyncJob(command="startVirtualMachine", cmd_class=START_CLASS, params_json=json.dumps({"id": vm.uuid}),
                       account_id=system.account_id, user_id=system.id, domain_id=system.account.domain_id,
                       instance_type="VirtualMachine", instance_uuid=vm.uuid, init_msid=runtime.msid)
        s.add(job)
        s.flush()
        alerting.alert(s, alerting.HA_ACTION, f"HA is restarting VM {vm.instance_name} ({vm.uuid})",
                       content=f"{why}; restart job {job.uuid}", zone_id=vm.zone_id, resource_type="VirtualMachine",
                       resource_uuid=vm.uuid)
        uuid = job.uuid
    _wake(runtime)
    log.warning("HA restart of VM %s queued as job %s (%s)", vm_id, uuid, why)
    return uuid


def host_down(runtime: Runtime, host_id: int) -> dict[str, list[str]]:
    """The host is Down and fenced: its VMs are Stopped; the HA ones are restarted elsewhere."""
    with runtime.db.session(write=False) as s:
        host_name = s.get_one(Host, host_id).name
        vm_ids = list(s.scalars(select(VirtualMachine.id).where(
            VirtualMachine.host_id == host_id, VirtualMachine.removed.is_(None),
            VirtualMachine.state.in_(ON_HOST))))
    out: dict[str, list[str]] = {"restarted": [], "stopped": []}
    for vm_id in vm_ids:
        try:
            with runtime.db.session() as s:
                vm = s.get_one(VirtualMachine, vm_id)
                if vm.host_id != host_id or vm.state not in ON_HOST:
                    continue
                fsm.transition(s, vm, VmEvent.FollowAgentPowerOffReport)  # Running/Stopping -> Stopped
                placement.release_host(s, host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
                vm.last_host_id, vm.host_id = host_id, None
                vm.power_state, vm.power_state_updated = "PowerReportMissing", utcnow()
                ha, name, uuid, zone_id = vm.ha_enabled, vm.instance_name, vm.uuid, vm.zone_id
                if not ha:
                    alerting.alert(s, alerting.USERVM, f"VM {name} ({uuid}) is stopped: its host {host_name} is down",
                                   content="the VM's offering does not offer HA", zone_id=zone_id,
                                   resource_type="VirtualMachine", resource_uuid=uuid)
        except CloudError as exc:
            log.info("HA: VM %s on down host %s changed meanwhile: %s", vm_id, host_name, exc)
            continue
        if ha:
            schedule_restart(runtime, vm_id, f"its host {host_name} is down")
            out["restarted"].append(uuid)
        else:
            out["stopped"].append(uuid)
    return out


def stopped_out_of_band(runtime: Runtime, vm_id: int, host_id: int) -> None:
    """VM sync saw a Running VM's domain stop without a request (a crash): an HA VM is started again."""
    with runtime.db.session(write=False) as s:
        host = s.get(Host, host_id)
        if host is None or host.status != "Up":
            return  # a host going away is host HA's business
    schedule_restart(runtime, vm_id, "it stopped without a request on a healthy host")


vmsync.OUT_OF_BAND_STOP_HOOKS.append(stopped_out_of_band)
