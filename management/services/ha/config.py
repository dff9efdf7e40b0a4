"""Host HA configuration (CloudStack's HA framework API): which provider investigates and fences a host, and
whether HA is enabled for the host, its cluster and its zone.

devcloud investigates every host whose hypervisor has a provider (services/ha/hostha.py) unless an operator
switched HA off: a host with HA disabled — on itself, its cluster or its zone — keeps the plain rule when it goes
silent (marked Down, nothing fenced or restarted). A host's HA state is Available while HA applies to it and
Disabled otherwise."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import InternalError, ParamError
from management.models.ha_config import HAConfig
from management.models.infra import Cluster, Host, Zone
from management.services.ha import providers

HOST, CLUSTER, ZONE = "Host", "Cluster", "Zone"


def _find(s: Session, kind: str, resource_id: int) -> HAConfig | None:
    return s.scalars(select(HAConfig).where(HAConfig.resource_type == kind,
                                            HAConfig.resource_id == resource_id)).first()


def _partition_enabled(s: Session, kind: str, resource_id: int | None) -> bool:
    if resource_id is None:
        return True
    cfg = _find(s, kind, resource_id)
    return cfg is None or cfg.enabled


def applies(s: Session, host: Host) -> bool:
    """Whether HA may act on the host: not switched off for the host, its cluster or its zone."""
    cfg = _find(s, HOST, host.id)
    if cfg is not None and not cfg.enabled:
        return False
    return _partition_enabled(s, CLUSTER, host.cluster_id) and _partition_enabled(s, ZONE, host.zone_id)


def _refresh_state(s: Session, host: Host, cfg: HAConfig) -> None:
    cfg.ha_state = "Available" if cfg.enabled and applies(s, host) else "Disabled"


def provider_names(hypervisor: str) -> list[str]:
    return [p.name for p in providers.for_hypervisor(hypervisor)]


def configure(s: Session, host: Host, provider: str) -> HAConfig:
    name = provider.lower()
    found = providers.PROVIDERS.get(name)
    if found is None:
        raise InternalError(f"Given HA provider [{provider}] does not exist.")
    if host.hypervisor_type.lower() not in (h.lower() for h in found.hypervisors):
        raise ParamError(f"Incompatible haprovider provided [{found.hypervisors[0]}] for the resource [{host.id}] "
                         f"of hypervisor type: [{host.hypervisor_type}].")
    cfg = _find(s, HOST, host.id)
    if cfg is None:
        cfg = HAConfig(resource_type=HOST, resource_id=host.id, enabled=False, ha_state="Disabled")
        s.add(cfg)
    cfg.provider = name
    _refresh_state(s, host, cfg)
    s.flush()
    return cfg


def set_host(s: Session, host: Host, enabled: bool) -> HAConfig:
    cfg = _find(s, HOST, host.id)
    if cfg is None or not cfg.provider:
        raise ParamError(f"HAProvider is not provided for the resource [{host.id}], failing configuration.")
    cfg.enabled = enabled
    _refresh_state(s, host, cfg)
    s.flush()
    return cfg


def set_partition(s: Session, kind: str, resource: Cluster | Zone, enabled: bool) -> None:
    cfg = _find(s, kind, resource.id)
    if cfg is None:
        cfg = HAConfig(resource_type=kind, resource_id=resource.id)
        s.add(cfg)
    cfg.enabled = enabled
    cfg.ha_state = "Available" if enabled else "Disabled"
    s.flush()
    col = Host.cluster_id if kind == CLUSTER else Host.zone_id
    for host in s.scalars(select(Host).where(col == resource.id, Host.removed.is_(None))):
        host_cfg = _find(s, HOST, host.id)
        if host_cfg is not None:
            _refresh_state(s, host, host_cfg)
    s.flush()


def host_configs(s: Session, host: Host | None) -> list[tuple[Host, HAConfig]]:
    stmt = select(Host, HAConfig).join(HAConfig, (HAConfig.resource_id == Host.id) & (HAConfig.resource_type == HOST))
    stmt = stmt.where(Host.removed.is_(None))
    if host is not None:
        stmt = stmt.where(Host.id == host.id)
    return [(h, c) for h, c in s.execute(stmt.order_by(Host.id))]


def host_config(s: Session, host: Host) -> HAConfig | None:
    return _find(s, HOST, host.id)
