"""runDiagnostics and getDiagnosticsData on a system VM (here: the virtual routers). Where the zone's routers are
real, the command runs in the router's namespace and the data is a zip of the router's files and network state put
in an image store of its zone; in a simulated zone runDiagnostics answers as CloudStack's simulator does ("PING
<address> executed in <router>", exit code 0) and there are no files to collect."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.compute import VirtualMachine
from management.models.infra import Zone
from management.models.rules import RouterNetwork
from management.models.vpc import VpcRouter
from management.network import diagnostics
from management.services.network import routers
from management.services.storage import templates as templates_service

log = logging.getLogger(__name__)

SYSTEM_TYPES = ("DomainRouter", "ConsoleProxy", "SecondaryStorageVm")
TYPES = ("ping", "traceroute", "arping")
_ARGS = re.compile(r"^[\w\-\s.]+$")  # what CloudStack lets through as extra arguments
_ADDRESS = re.compile(r"^[\w.:][\w.:\-]*$")  # an IPv4/IPv6 address or a host name, never an option


def kind_of(value: str) -> str:
    kind = value.strip().lower()
    if kind not in TYPES:
        raise ParamError(f"{value} Is not a valid diagnostics command type. ")
    return kind


def _netns(session: Session, vm: VirtualMachine) -> str | None:
    ref = session.get(RouterNetwork, vm.id) or session.get(VpcRouter, vm.id)
    return f"dcr-{ref.provider_key}" if ref is not None else None


def run(session: Session, vm: VirtualMachine, kind: str, address: str, extra: str | None) -> diagnostics.Outcome:
    if vm.vm_type not in SYSTEM_TYPES or vm.removed is not None:
        raise ParamError(f"Unable to find a system vm with id {vm.id}")
    if extra and not _ARGS.match(extra):
        raise ParamError(f"Optional parameters contain unwanted characters: {extra}")
    if not _ADDRESS.match(address):
        raise ParamError(f"Invalid IP/domain address {address}")
    if not routers.zone_routed(session, vm.zone_id):
        return diagnostics.Outcome(f"{kind.upper()} {address} executed in {vm.instance_name}", "", 0)
    netns = _running_netns(session, vm)
    log.info("runDiagnostics %s %s in %s", kind, address, netns)
    return diagnostics.run_in(netns, kind, address, extra)


def _running_netns(session: Session, vm: VirtualMachine) -> str:
    netns = _netns(session, vm)
    if netns is None or vm.state != "Running" or not diagnostics.namespace_exists(netns):
        raise InternalError(f"Failed to execute diagnostics command for system vm: {vm.instance_name}, on remote "
                            "host: this management server (the router is not running)")
    return netns


def collect(session: Session, vm: VirtualMachine, files: list[str]) -> Path:
    """getDiagnosticsData: the zip's path in an image store of the router's zone."""
    if vm.vm_type not in SYSTEM_TYPES or vm.removed is not None:
        raise InternalError(f"Diagnostics command execution failed, Unable to find vm instance with id: {vm.id}")
    zone = session.get_one(Zone, vm.zone_id)
    if not [st for st in templates_service.image_stores(session, zone.id) if not st.readonly]:
        raise InternalError(f"No Secondary storage found in Zone with Id: {zone.id}")
    store = templates_service.writable_store(session, zone)
    impl = routers.current()
    if not routers.zone_routed(session, vm.zone_id) or impl is None or not hasattr(impl.provider, "paths"):
        raise InternalError(f"Failed to generate diagnostics zip file in the system VM {vm.uuid}")
    netns = _running_netns(session, vm)
    root = impl.provider.paths(netns.removeprefix("dcr-")).root
    layout = templates_service.layout(store)
    rel = f"diagnostics_data/diagnostics_files_{vm.instance_name}_{utcnow():%Y%m%d%H%M%S}.zip"
    with layout.atomic_path(rel) as tmp:
        diagnostics.collect(netns, root, files, tmp)
    log.info("diagnostics data of %s written to image store %s", vm.uuid, store.name)
    return layout.abs(rel)
