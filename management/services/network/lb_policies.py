"""Stickiness and health-check policies of load-balancer rules, rendered into the router's haproxy.

Stickiness methods and their parameters are those CloudStack's virtual router offers (LbCookie, AppCookie,
SourceBased); a new policy replaces the rule's previous one, as CloudStack's apply step does. A rule holds at most
one health-check policy (``option httpchk`` on its backend).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.lb_policies import LbHealthCheckPolicy, LbStickinessPolicy
from management.models.rules import NetworkRule
from management.services.network import routers


@dataclass(frozen=True)
class MethodParam:
    name: str
    required: bool
    flag: bool  # a flag takes no value
    description: str


@dataclass(frozen=True)
class StickinessMethod:
    name: str
    description: str
    params: tuple[MethodParam, ...]


STICKINESS_METHODS = {m.name: m for m in (
    StickinessMethod("LbCookie", "The load balancer inserts (or rewrites) its own cookie naming the server that "
                     "answered; HTTP only.", (
                         MethodParam("cookie-name", False, False, "Name of the cookie (default: derived from the "
                                     "public IP and port)."),
                         MethodParam("mode", False, False, "insert (default), rewrite or prefix."),
                         MethodParam("nocache", False, True, "Mark responses that set the cookie as not "
                                     "cacheable."),
                         MethodParam("indirect", False, True, "Do not pass the cookie on to the server."),
                         MethodParam("postonly", False, True, "Set the cookie only on responses to POST requests."),
                         MethodParam("domain", False, False, "Domain the cookie is valid for."),
                     )),
    StickinessMethod("AppCookie", "Sessions follow a cookie the application itself sets; HTTP only.", (
        MethodParam("cookie-name", False, False, "Name of the application's cookie (default: derived from the "
                    "public IP and port)."),
        MethodParam("length", False, False, "How many characters of the cookie value are remembered (default "
                    "52)."),
        MethodParam("holdtime", False, False, "How long an unused entry is kept, e.g. 20s, 30m, 4h, 5d (default "
                    "3h)."),
        MethodParam("request-learn", False, True, "Also learn the cookie from requests."),
        MethodParam("prefix", False, True, "Match on the cookie name prefix."),
        MethodParam("mode", False, False, "path-parameters or query-string."),
    )),
    StickinessMethod("SourceBased", "Clients stay on one server by source address; any protocol.", (
        MethodParam("tablesize", False, False, "Size of the source address table, e.g. 200k (default)."),
        MethodParam("expire", False, False, "How long an entry is kept, e.g. 30m (default 3h)."),
    )),
)}

_TIME = re.compile(r"^\d+[smhd]$")
_SIZE = re.compile(r"^\d+[kmg]?$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _params(raw: list[dict[str, str]] | None) -> dict[str, str]:
    """param[N].name / param[N].value pairs -> {name: value} (a flag's value may be absent)."""
    out: dict[str, str] = {}
    for item in raw or []:
        name = item.get("name")
        if name:
            out[name] = item.get("value", "")
    return out


def _validate(rule: NetworkRule, method_name: str, params: dict[str, str]) -> tuple[str, dict[str, str]]:
    method = next((m for m in STICKINESS_METHODS.values() if m.name.lower() == method_name.lower()), None)
    if method is None:
        raise ParamError(f"Failed to match Stickiness method name for LB rule:{rule.uuid}")
    known = {p.name: p for p in method.params}
    for name, value in params.items():
        p = known.get(name.lower())
        if p is None:
            raise ParamError(f"Failed : Stickiness policy does not support param name :{name}")
        if not p.flag and not value:
            raise ParamError(f"Failed : Value expected for the Param :{p.name}")
    for p in method.params:
        if p.required and p.name not in {n.lower() for n in params}:
            raise ParamError(f"Failed : Missing Manadatory Param :{p.name}")
    clean = {k.lower(): v for k, v in params.items()}
    bad = None
    if method.name == "SourceBased":
        if "tablesize" in clean and not _SIZE.match(clean["tablesize"]):
            bad = "tablesize"
        elif "expire" in clean and not _TIME.match(clean["expire"]):
            bad = "expire"
    elif method.name == "AppCookie":
        if "length" in clean and not clean["length"].isdigit():
            bad = "length"
        elif "holdtime" in clean and not _TIME.match(clean["holdtime"]):
            bad = "holdtime"
        elif "mode" in clean and clean["mode"] not in ("path-parameters", "query-string"):
            bad = "mode"
    elif method.name == "LbCookie" and "mode" in clean and clean["mode"] not in ("insert", "rewrite", "prefix"):
        bad = "mode"
    if bad is None and "cookie-name" in clean and not _NAME.match(clean["cookie-name"]):
        bad = "cookie-name"
    if bad is not None:
        raise ParamError(f"Failed LB in validation rule id: {rule.uuid} Cause: {bad} is not in valid format")
    return method.name, clean


def _usable(rule: NetworkRule) -> None:
    if rule.state == "Revoke" or rule.removed is not None:
        raise ParamError(f"Failed: LB rule: {rule.uuid} is in deleting state: ")


def stickiness_of(session: Session, rule_id: int) -> list[LbStickinessPolicy]:
    return list(session.scalars(select(LbStickinessPolicy).where(LbStickinessPolicy.load_balancer_id == rule_id,
                                                                 LbStickinessPolicy.revoke.is_(False))
                                .order_by(LbStickinessPolicy.id)))


def health_checks_of(session: Session, rule_id: int) -> list[LbHealthCheckPolicy]:
    return list(session.scalars(select(LbHealthCheckPolicy).where(LbHealthCheckPolicy.load_balancer_id == rule_id,
                                                                  LbHealthCheckPolicy.revoke.is_(False))
                                .order_by(LbHealthCheckPolicy.id)))


def create_stickiness(session: Session, rule: NetworkRule, *, name: str, method: str, description: str | None,
                      params: list[dict[str, str]] | None, for_display: bool | None) -> LbStickinessPolicy:
    _usable(rule)
    method_name, clean = _validate(rule, method, _params(params))
    if len(stickiness_of(session, rule.id)) > 1:
        raise ParamError(f"Failed to create Stickiness policy: Already two policies attached {rule.uuid}")
    policy = LbStickinessPolicy(load_balancer_id=rule.id, name=name, description=description,
                                method_name=method_name, params_json=json.dumps(clean, sort_keys=True))
    if for_display is not None:
        policy.for_display = for_display
    session.add(policy)
    session.flush()
    return policy


def apply_stickiness(session: Session, policy: LbStickinessPolicy) -> None:
    """The job half of createLBStickinessPolicy: the new policy replaces the rule's older ones on the router."""
    for old in stickiness_of(session, policy.load_balancer_id):
        if old.id != policy.id:
            old.revoke = True
    session.flush()
    routers.network_changed(session, session.get_one(NetworkRule, policy.load_balancer_id).network_id)
    for old in session.scalars(select(LbStickinessPolicy).where(
            LbStickinessPolicy.load_balancer_id == policy.load_balancer_id, LbStickinessPolicy.revoke.is_(True))):
        session.delete(old)
    session.flush()


def delete_stickiness(session: Session, policy: LbStickinessPolicy) -> None:
    rule = session.get_one(NetworkRule, policy.load_balancer_id)
    _usable(rule)
    session.delete(policy)
    session.flush()
    routers.network_changed(session, rule.network_id)


def create_health_check(session: Session, rule: NetworkRule, *, ping_path: str | None, description: str | None,
                        response_time: int | None, interval: int | None, healthy: int | None, unhealthy: int | None,
                        for_display: bool | None) -> LbHealthCheckPolicy:
    if response_time is not None and interval is not None and response_time > interval:
        raise ParamError("Failed to create HealthCheck policy : Monitor interval must be greater than response "
                         "timeout")
    _usable(rule)
    if health_checks_of(session, rule.id):
        raise ParamError(f"Failed to create HealthCheck policy: Already policy attached  for the LB Rule:{rule.uuid}")
    for what, value, lo in (("responsetimeout", response_time, 1), ("intervaltime", interval, 1),
                            ("healthythreshold", healthy, 1), ("unhealthythreshold", unhealthy, 1)):
        if value is not None and value < lo:
            raise ParamError(f"Failed to create HealthCheck policy: {what} must be at least {lo}")
    path = ping_path or "/"
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise ParamError(f"Failed to create HealthCheck policy: invalid ping path {path}")
    policy = LbHealthCheckPolicy(load_balancer_id=rule.id, ping_path=path, description=description,
                                 response_time=response_time or 2, interval=interval or 5,
                                 healthy_threshold=healthy or 2, unhealthy_threshold=unhealthy or 10)
    if for_display is not None:
        policy.for_display = for_display
    session.add(policy)
    session.flush()
    return policy


def apply_health_check(session: Session, policy: LbHealthCheckPolicy) -> None:
    routers.network_changed(session, session.get_one(NetworkRule, policy.load_balancer_id).network_id)


def delete_health_check(session: Session, policy: LbHealthCheckPolicy) -> None:
    rule = session.get_one(NetworkRule, policy.load_balancer_id)
    _usable(rule)
    session.delete(policy)
    session.flush()
    routers.network_changed(session, rule.network_id)


def params_of(policy: LbStickinessPolicy) -> dict[str, str]:
    try:
        data = json.loads(policy.params_json or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
