"""runDiagnostics on a system VM (here: the virtual routers). Where the zone's routers are real the command runs in
the router's namespace; in a simulated zone the answer is the CloudStack simulator's ("PING <address> executed in
<router>", exit code 0)."""

from __future__ import annotations

import logging
import re

from sqlalchemy.orm import Session

from management.errors import InternalError, ParamError
from management.models.compute import VirtualMachine
from management.models.rules import RouterNetwork
from management.models.vpc import VpcRouter
from management.network import diagnostics
from management.services.network import routers

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
    netns = _netns(session, vm)
    if netns is None or vm.state != "Running" or not diagnostics.namespace_exists(netns):
        raise InternalError(f"Failed to execute diagnostics command for system vm: {vm.instance_name}, on remote "
                            "host: this management server (the router is not running)")
    log.info("runDiagnostics %s %s in %s", kind, address, netns)
    return diagnostics.run_in(netns, kind, address, extra)
