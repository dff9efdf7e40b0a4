"""Virtual router administration beyond start/stop: changeServiceForRouter (a stopped router's offering) and
getRouterHealthCheckResults (the router's services checked on the spot: its namespace, dnsmasq for DHCP and DNS,
the nftables table, haproxy when it balances, the metadata server)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.network.routers import router_resp
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas import Resp
from management.api.cloudstack.schemas_rules import RouterResp
from management.db.base import utcnow
from management.errors import InternalError, ParamError, invalid_id
from management.models.compute import VirtualMachine
from management.models.offerings import ServiceOffering
from management.models.rules import RouterNetwork
from management.services import configuration
from management.services.context import CallContext
from management.services.network import routers as svc

HEALTH_CHECKS_ENABLED = "router.health.checks.enabled"


class ServerApiInternalError(InternalError):
    """A 530 the command itself raises (ServerApiException): cserrorcode 9999."""

    cs_code = 9999


def _router(ctx: CallContext, key: str, uuid: str) -> VirtualMachine:
    vm: VirtualMachine | None = ctx.refs.get(key)
    if vm is None or vm.vm_type != "DomainRouter" or vm.removed is not None:
        raise invalid_id(uuid)
    return vm


def _label(vm: VirtualMachine) -> str:
    """How CloudStack names a VM instance in its messages."""
    return "VM instance " + json.dumps({"id": vm.id, "instanceName": vm.instance_name, "type": vm.vm_type,
                                        "uuid": vm.uuid}, separators=(",", ":"))


class ChangeServiceForRouterParams(Params):
    id: Annotated[str, Ref("DomainRouter")] = Field(description="The ID of the router")
    serviceofferingid: Annotated[str, Ref("ServiceOffering")] = Field(
        description="the service offering ID to apply to the domain router")


@api_command("changeServiceForRouter", params=ChangeServiceForRouterParams, roles=ADMIN, result_key="router",
             response=RouterResp, event="ROUTER.UPGRADE", entity="DomainRouter",
             description="Gives a stopped router another system service offering; it takes effect at its next start")
def change_service_for_router(ctx: CallContext, p: ChangeServiceForRouterParams) -> RouterResp:
    vm = _router(ctx, "id", p.id)
    new: ServiceOffering = ctx.refs["serviceofferingid"]
    if vm.service_offering_id == new.id:
        return router_resp(ctx, vm)
    if not new.is_system:
        raise ParamError(f"Cannot upgrade router vm to a non system service offering {new.uuid}")
    if vm.state != "Stopped":
        raise ParamError(f"Unable to upgrade router {_label(vm)} in state {vm.state}; make sure the router is "
                         "stopped and not in an error state before upgrading.")
    current = ctx.session.get(ServiceOffering, vm.service_offering_id)
    if current is not None and (current.storage_type == "local") != (new.storage_type == "local"):
        raise ParamError(f"Can't upgrade, due to new local storage status : {str(new.storage_type == 'local').lower()}"
                         f" is different from current local storage status of router {_label(vm)}")
    vm.service_offering_id = new.id
    ctx.session.flush()
    return router_resp(ctx, vm)


class HealthCheckResp(Resp):
    checkname: str = Field(description="the name of the health check on the router")
    checktype: str = Field(description="the type of the health check: basic or advanced")
    success: bool = Field(description="whether the health check passed")
    status: str = Field(description="the result: SUCCESS or FAILED")
    lastupdated: datetime = Field(description="when the check ran")
    details: str = Field(description="what the check saw")


class RouterHealthChecksResp(Resp):
    routerid: str = Field(description="the ID of the router")
    healthchecks: list[HealthCheckResp] = Field(description="the router's health checks")


class RouterHealthParams(Params):
    routerid: Annotated[str, Ref("DomainRouter")] = Field(description="the ID of the router")
    performfreshchecks: bool | None = Field(None, description="if true, the checks run on the spot; here they "
                                            "always do, the router's services being read at the call")


def _check(name: str, kind: str, ok: bool, details: str, when: datetime) -> HealthCheckResp:
    return HealthCheckResp(checkname=name, checktype=kind, success=ok, status="SUCCESS" if ok else "FAILED",
                           lastupdated=when, details=details)


def health_checks(ctx: CallContext, vm: VirtualMachine) -> list[HealthCheckResp]:
    """The router's checks as its provider sees it now; [] for a router no provider runs (a simulated zone)."""
    impl = svc.current()
    ref = ctx.session.get(RouterNetwork, vm.id)
    if impl is None or ref is None or vm.state != "Running" or not svc.zone_routed(ctx.session, vm.zone_id):
        return []
    st = impl.provider.status(ref.provider_key)
    now = utcnow()
    up = st.state == "Running"
    out = [_check("connectivity.test", "basic", up, "router namespace present" if up else "router not running", now)]
    if not up:
        return out
    names = {"dnsmasq": ("dhcp_check.py", "dns_check.py"), "nftables": ("iptables_check.py",),
             "haproxy": ("haproxy_check.py",), "metadata": ("metadata_check.py",)}
    for service in st.services:
        detail = (f"{service.name} running (pid {service.pid})" if service.pid else f"{service.name} in place") \
            if service.running else f"{service.name}: {service.detail or 'not running'}"
        out += [_check(n, "advanced", service.running, detail, now) for n in names.get(service.name, (service.name,))]
    return out


@api_command("getRouterHealthCheckResults", params=RouterHealthParams, roles=ADMIN, result_key="routerhealthchecks",
             response=RouterHealthChecksResp, since="4.14.0",
             description="Runs the health checks of a virtual router and answers their results")
def get_router_health_check_results(ctx: CallContext, p: RouterHealthParams) -> RouterHealthChecksResp:
    vm = _router(ctx, "routerid", p.routerid)
    if configuration.get(ctx.session, HEALTH_CHECKS_ENABLED) != "true":
        raise ServerApiInternalError("Failed to get health check results due to: Router health checks are not "
                                     f"enabled for router {vm.id}")
    checks = health_checks(ctx, vm)
    if not checks:
        raise ServerApiInternalError(
            "Failed to get health check results due to: No health check results found for the router. This could "
            "happen for a newly created router. Please wait for periodic results to populate or manually call for "
            "checks to execute.")
    return RouterHealthChecksResp(routerid=vm.uuid, healthchecks=checks)
