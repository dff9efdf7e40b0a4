"""Host HA: what happens to a host that stopped answering.

The host monitor of the server that owns the host calls `investigate` once the host has been silent for
`ping.interval * ping.timeout` (and again every round while it stays in Alert):

1. the host's HA provider asks a neighbour for its storage heartbeat (services/ha/providers.py);
2. alive: the host goes to **Alert** (the management link failed, the host and its VMs are fine: nothing is
   restarted), with an alert;
3. dead: the host is **fenced** by its provider, then marked **Down**, with an alert; its HA VMs are restarted on
   other hosts and the others are Stopped (services/ha/vmha.py). A fence that fails leaves the host in **Alert**
   and restarts nothing: two copies of a VM are worse than none;
4. no answer either way (no neighbour, no shared pool): **Alert**, with an alert.

Investigation runs for every host (as CloudStack's VM HA uses its investigators). A hypervisor without an HA
provider (only the simulator has one so far) keeps the plain rule: the silent host is marked Down, with an alert,
and its VMs are left as the database says (nothing is fenced, nothing restarted).
"""

from __future__ import annotations

import logging

from management.errors import ConcurrentOperation
from management.models.infra import Host
from management.services import alerting
from management.services.ha import config as ha_config
from management.services.ha import providers, vmha
from management.services.infra import hostmonitor
from management.services.infra import hosts as hosts_service
from management.services.runtime import Runtime

log = logging.getLogger(__name__)


def investigate(runtime: Runtime, host_id: int) -> str:
    """Decides what a silent host is (Alert or Down) from a second signal; fences and restarts its HA VMs when it
    is dead. Returns the host's status afterwards."""
    with runtime.db.session(write=False) as s:
        host = s.get_one(Host, host_id)
        if host.removed is not None or host.status in ("Up", "Down"):
            return host.status
        found = providers.for_hypervisor(host.hypervisor_type)
        provider = found[0] if found else None
        target = providers.target(host)
        switched_off = not ha_config.applies(s, host)
    if provider is not None and switched_off:
        return _set_status(runtime, host_id, "Down", f"Host {target.name} does not answer; HA is disabled for it "
                           f"(host, cluster or zone): it is not investigated or fenced, its VMs are not restarted")
    if provider is None:
        return _set_status(runtime, host_id, "Down", f"Host {target.name} does not answer; there is no HA provider "
                           f"for {target.hypervisor}: it is not investigated or fenced, its VMs are not restarted")
    verdict = provider.activity(runtime, target)
    if verdict.activity is providers.Activity.ALIVE:
        return _set_status(runtime, host_id, "Alert", f"Host {target.name} does not answer the management server "
                           f"but is alive ({verdict.detail}); its VMs are left running")
    if verdict.activity is providers.Activity.UNKNOWN:
        return _set_status(runtime, host_id, "Alert", f"Host {target.name} does not answer and whether it is alive "
                           f"cannot be told ({verdict.detail}); its VMs are left as they are")
    fenced, how = provider.fence(runtime, target)
    if not fenced:
        return _set_status(runtime, host_id, "Alert", f"Host {target.name} is dead ({verdict.detail}) but fencing it "
                           f"failed ({how}); its HA VMs are not restarted")
    status = _set_status(runtime, host_id, "Down", f"Host {target.name} is down: {verdict.detail}; fenced: {how}")
    if status == "Down":
        vmha.host_down(runtime, host_id)
    return status


def _set_status(runtime: Runtime, host_id: int, status: str, why: str) -> str:
    with runtime.db.session() as s:
        host = s.get_one(Host, host_id)
        if host.status == status:
            return status
        if host.status == "Up":
            return "Up"  # it answered meanwhile
        try:
            hosts_service.set_state(s, host, status=status)
        except ConcurrentOperation:
            return s.get_one(Host, host_id).status
        log.warning("%s", why)
        alerting.alert(s, alerting.HOST, f"Host is {status.lower()}, name: {host.name} (id:{host.id}), "
                       f"availability zone: {host.zone.name}, pod: {host.pod.name if host.pod else ''}",
                       content=why, zone_id=host.zone_id, pod_id=host.pod_id, cluster_id=host.cluster_id,
                       resource_type="Host", resource_uuid=host.uuid, level="ERROR" if status == "Down" else "WARN")
        return status


if investigate not in hostmonitor.INVESTIGATORS:
    hostmonitor.INVESTIGATORS.append(investigate)
