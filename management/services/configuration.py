"""Global settings (CloudStack's `configuration` table) and their scoped overrides.

The catalogue is CloudStack's: every setting name, category, default, scope and dynamic flag ships in
`management/data/settings.tsv` (descriptions are devcloud's own), so listConfigurations answers for any key; the
settings devcloud acts on are listed in `SETTINGS` below and in `ACTED_ON`, and every other one says in its
description that devcloud only stores it.

Scoped values: a zone-scoped value lives in the zone's details (`details_json["config"]`); for the two cluster-scoped
factors CloudStack keeps on the cluster itself (cpu/mem overprovisioning) the cluster's overcommit ratio is the
value; every other cluster, storage pool, image store, domain and account value is a `ScopedConfiguration` row.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management import loops
from management.errors import ParamError
from management.models.events import Configuration
from management.models.governance import ScopedConfiguration
from management.models.infra import Cluster, Zone
from management.services.cache import TTLCache

CATALOGUE = Path(__file__).resolve().parent.parent / "data" / "settings.tsv"
NOT_ACTED_ON = " (devcloud keeps this value but does not act on it)"
# Scopes a setting may have, as CloudStack's ConfigKey.Scope names them in API responses.
SCOPES = ("zone", "cluster", "storagepool", "imagestore", "domain", "account")


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    category: str
    default: str | None
    scope: str | None
    dynamic: bool
    description: str

    @property
    def type(self) -> str:
        d = (self.default or "").strip()
        if d.lower() in ("true", "false"):
            return "Boolean"
        try:
            int(d)
            return "Number"
        except ValueError:
            pass
        try:
            float(d)
            return "Decimal"
        except ValueError:
            return "String"


@cache
def catalogue() -> dict[str, Setting]:
    """CloudStack's settings by name (the packaged data file)."""
    out: dict[str, Setting] = {}
    for line in CATALOGUE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, category, default, scope, dynamic, description = line.split("\t")
        out[name] = Setting(name, category, None if default == "\\N" else default, scope or None,
                            dynamic == "1", description)
    return out

# name -> (default value, category, scope, description). Names and defaults are CloudStack's; the list covers
# what Marvin's deployDataCenter/advanced.cfg sets and what placement/host monitoring read.
SETTINGS: dict[str, tuple[str, str, str | None, str]] = {
    "expunge.delay": ("86400", "Advanced", None, "Determines how long (in seconds) to wait before actually "
                      "expunging destroyed vm. The default value = the default value of expunge.interval"),
    "expunge.interval": ("86400", "Advanced", None, "The interval (in seconds) to wait before running the "
                         "expunge thread."),
    "expunge.workers": ("1", "Advanced", None, "Number of workers performing expunge"),
    "cpu.overprovisioning.factor": ("1.0", "Advanced", "cluster", "Used for CPU overprovisioning calculation; "
                                    "available CPU will be (actualCpuCapacity * cpu.overprovisioning.factor)"),
    "mem.overprovisioning.factor": ("1.0", "Advanced", "cluster", "Used for memory overprovisioning calculation"),
    "storage.overprovisioning.factor": ("2", "Storage", "zone", "Used for storage overprovisioning calculation; "
                                        "available storage will be (actualStorageSize * "
                                        "storage.overprovisioning.factor)"),
    "cluster.cpu.allocated.capacity.disablethreshold": ("0.85", "Alert", "cluster", "Percentage (as a value "
                                                        "between 0 and 1) of cpu utilization above which "
                                                        "allocators will disable using the cluster for low cpu "
                                                        "available."),
    "cluster.memory.allocated.capacity.disablethreshold": ("0.85", "Alert", "cluster", "Percentage (as a value "
                                                           "between 0 and 1) of memory utilization above which "
                                                           "allocators will disable using the cluster for low "
                                                           "memory available."),
    "pool.storage.allocated.capacity.disablethreshold": ("0.85", "Alert", "zone", "Percentage (as a value "
                                                         "between 0 and 1) of allocated storage utilization "
                                                         "above which allocators will disable using the pool"),
    "pool.storage.capacity.disablethreshold": ("0.85", "Alert", "zone", "Percentage (as a value between 0 and "
                                               "1) of storage utilization above which allocators will disable "
                                               "using the pool"),
    "cluster.threshold.enabled": ("true", "Advanced", None, "Disable clusters whose allocated capacity crosses "
                                  "the disable thresholds"),
    "vm.allocation.algorithm": ("random", "Advanced", None, "'random', 'firstfit', 'userdispersing', "
                                "'userconcentratedpod_random', 'userconcentratedpod_firstfit', "
                                "'firstfitleastconsumed' : Order in which hosts within a cluster will be "
                                "considered for VM/volume allocation."),
    "vm.deployment.planner": ("FirstFitPlanner", "Advanced", None, "Planner used for VM deployment"),
    "host.capacityType.to.order.clusters": ("CPU", "Advanced", None, "The host capacity type (CPU, RAM or "
                                            "COMBINED) used by deployment planner to order clusters"),
    "instance.name": ("VM", "Hidden", None, "Name of the deployment instance."),
    "ping.interval": ("60", "Advanced", None, "Interval to send application level pings to make sure the "
                      "connection is still working"),
    "ping.timeout": ("2.5", "Advanced", None, "Multiplier to ping.interval before announcing an agent has "
                     "timed out"),
    "cluster.heartbeat.interval": ("1500", "management-server", None, "Milliseconds between two heartbeats of a "
                                   "management server"),
    "cluster.heartbeat.threshold": ("150000", "management-server", None, "Milliseconds without a heartbeat after "
                                    "which the peers declare a management server Down and take over its work"),
    "vm.sync.interval": ("60", "Advanced", None, "Interval (in seconds) between VM power-state sync rounds "
                         "that reconcile VM states with what the hypervisors report"),
    "network.gc.interval": ("600", "Advanced", None, "Seconds to wait before checking for networks to "
                            "shutdown"),
    "network.gc.wait": ("600", "Advanced", None, "Time (in seconds) to wait before shutting down a network "
                        "that's not in used"),
    "storage.cleanup.interval": ("86400", "Advanced", None, "The interval (in seconds) to wait before running "
                                 "the storage cleanup thread."),
    "account.cleanup.interval": ("86400", "Advanced", None, "The interval (in seconds) between cleanup for "
                                 "removed accounts"),
    "guest.domain.suffix": ("cloud.internal", "Network", None, "Default domain name for vms inside virtualized "
                            "networks fronted by router"),
    "check.pod.cidrs": ("true", "Advanced", None, "If true, different pods must belong to different CIDR "
                        "subnets."),
    "secstorage.allowed.internal.sites": (None, "Advanced", None,  # type: ignore[dict-item]
                                          "Comma separated list of cidrs internal to the datacenter that can "
                                          "host template download servers"),
    "direct.agent.load.size": ("16", "Advanced", None, "The number of direct agents to load each time"),
    "enable.dynamic.scale.vm": ("false", "Advanced", "zone", "Enables/Disables dynamically scaling a vm"),
    "workers": ("5", "Advanced", None, "Number of worker threads."),
    "vm.op.wait.interval": ("120", "Advanced", None, "Time (in seconds) to wait before checking if a previous "
                            "operation has succeeded"),
    "hypervisor.list": ("KVM,Simulator,XenServer,LXC", "Advanced", None, "The list of hypervisors that this "
                        "deployment will use."),
    "use.local.storage": ("false", "Advanced", None, "Should we use the local storage if it's available?"),
    "system.vm.use.local.storage": ("false", "Advanced", "zone", "Indicates whether to use local storage "
                                    "pools or shared storage pools for system VMs."),
    "management.network.cidr": (None, "Advanced", None,  # type: ignore[dict-item]
                                "The cidr of management server network"),
    "host": ("127.0.0.1", "Advanced", None, "The ip address of management server"),
    "max.account.user.vms": ("20", "Account Defaults", None, "The default maximum number of user VMs that can "
                             "be deployed for an account"),
    "storage.max.volume.size": ("2000", "Storage", None, "The maximum size for a volume (in GB)."),
    "max.account.vpcs": ("20", "Account Defaults", None, "The default maximum number of vpcs that can be created for "
                         "an account"),
    "vpc.max.networks": ("3", "Advanced", None, "Maximum number of networks per vpc"),
    "remote.access.vpn.client.iprange": ("10.1.2.1-10.1.2.8", "Network", None, "The range of ips to be allocated "
                                         "to remote access vpn clients. The first ip in the range is used by the "
                                         "VPN server"),
    "remote.access.vpn.psk.length": ("24", "Network", None, "The length of the ipsec preshared key (minimum 8, "
                                     "maximum 256)"),
    "remote.access.vpn.user.limit": ("8", "Network", None, "The maximum number of VPN users that can be created "
                                     "per account"),
    "custom.diskoffering.size.max": ("1024", "Advanced", None, "Maximum size in GB for custom disk offering."),
    "custom.diskoffering.size.min": ("1", "Advanced", None, "Minimum size in GB for custom disk offering."),
    "scheduler.interval": ("60", "Advanced", None, "Interval (in seconds) between rounds of the scheduler that runs "
                           "VM schedules and backup schedules (one management server runs it at a time)"),
    "backup.framework.enabled": ("false", "Advanced", "zone", "Is backup and recovery framework enabled."),
    "backup.framework.provider.plugin": ("nas", "Advanced", "zone", "The backup and recovery provider plugin. "
                                         "Valid plugin values: nas"),
    "public.ip.address.quarantine.duration": ("0", "Network", None, "Minutes a released public IP stays in "
                                              "quarantine: only its previous owner may take it back meanwhile "
                                              "(0: no quarantine)"),
    "vr.public.interface.max.mtu": ("1500", "Network", "zone", "Largest MTU of a router's public interface "
                                    "(larger publicmtu values are capped)"),
    "vr.private.interface.max.mtu": ("1500", "Network", "zone", "Largest MTU of a router's guest interface "
                                     "(larger privatemtu values are capped)"),
    "autoscale.stats.interval": ("60", "Advanced", None, "Seconds between two rounds of the autoscale engine "
                                 "(samples of the groups' members, scale up/down decisions; 0: off)"),
    "ipv6.offering.enabled": ("false", "Advanced", None, "Whether network offerings with IPv6 (internetprotocol "
                              "DualStack) may be created"),
    "routed.network.vpc.enabled": ("true", "Network", "zone", "Whether ROUTED mode networks (no NAT) and their "
                                   "IPv4 subnets, AS numbers and BGP peers may be used in the zone"),
    "routed.ipv4.network.cidr.auto.allocation.enabled": ("true", "Advanced", None, "Whether a ROUTED network "
                                                         "created with a CIDR size gets a new subnet carved from "
                                                         "the zone's IPv4 subnets when no free one fits"),
    "routed.network.ipv4.max.cidr.size": ("30", "Network", None, "Largest CIDR size (smallest network) of a ROUTED "
                                          "network"),
    "routed.network.ipv4.min.cidr.size": ("24", "Network", None, "Smallest CIDR size (largest network) of a ROUTED "
                                          "network"),
    "router.health.checks.enabled": ("true", "Advanced", None, "Whether getRouterHealthCheckResults checks the "
                                     "virtual routers' services"),
}

# Settings whose cluster-scoped value is the cluster's own column.
_CLUSTER_COLUMNS = {"cpu.overprovisioning.factor": "cpu_overcommit_ratio",
                    "mem.overprovisioning.factor": "mem_overcommit_ratio"}


# (engine, name) -> global value: a deploy reads half a dozen settings. Dropped when this process commits a change
# to a setting (updateConfiguration), within the TTL for another server's change. Keyed by the engine object, not
# its URL: a new engine on the same database (a restart in tests) starts empty. A committed change also wakes the
# background loops, which read their intervals again (management/loops.py).
_GLOBAL: TTLCache[str | None] = TTLCache(5.0, watch=(Configuration,), on_invalidate=loops.wake_all)


def global_value(session: Session, name: str) -> str | None:
    """The global row's value of setting ``name`` (None when the row is missing or NULL; a miss is not cached)."""
    return _GLOBAL.get((session.get_bind(), name), lambda: session.scalar(
        select(Configuration.value).where(Configuration.name == name)), session)


def register(name: str, default: str | None, category: str, description: str, scope: str | None = None) -> None:
    """A setting owned by a feature module (seeded like the ones above; the module is imported before bootstrap)."""
    SETTINGS.setdefault(name, (default, category, scope, description))  # type: ignore[arg-type]


# Catalogue settings devcloud reads besides SETTINGS (resource limits, projects, usage, alerts, API).
ACTED_ON = frozenset({
    "default.page.size", "api.sessionkey.check.locations", "integration.api.port",
    "enforce.post.requests.and.timestamps", "allow.user.create.projects", "project.invite.required",
    "allow.user.expunge.recover.vm", "allow.domain.admins.to.create.tagged.offerings",
    "usage.stats.job.aggregation.range", "usage.aggregation.timezone", "enable.usage.server",
    "capacity.check.period", "cluster.cpu.allocated.capacity.notificationthreshold",
    "cluster.memory.allocated.capacity.notificationthreshold", "cluster.storage.capacity.notificationthreshold",
    "cluster.storage.allocated.capacity.notificationthreshold", "alert.purge.delay",
    "network.loadbalancer.haproxy.max.conn",
}) | {n for n in catalogue() if n.startswith(("max.account.", "max.domain.", "max.project."))}


def seed(session: Session) -> None:
    """Adds the known settings that are missing (idempotent; never overwrites a value)."""
    existing = set(session.scalars(select(Configuration.name)))
    for name, (value, category, scope, description) in SETTINGS.items():
        if name not in existing:
            known = catalogue().get(name)
            session.add(Configuration(name=name, value=value, default_value=value, category=category,
                                      description=description, scope=scope,
                                      is_dynamic=known.dynamic if known else True))
            existing.add(name)
    for name, st in catalogue().items():
        if name in existing:
            continue
        text = st.description + ("" if name in ACTED_ON else NOT_ACTED_ON)
        session.add(Configuration(name=name, value=st.default, default_value=st.default, category=st.category,
                                  description=text, scope=st.scope, is_dynamic=st.dynamic))
    session.flush()


def scoped_value(session: Session, scope: str, resource_id: int, name: str) -> str | None:
    return session.scalar(select(ScopedConfiguration.value).where(
        ScopedConfiguration.scope == scope, ScopedConfiguration.resource_id == resource_id,
        ScopedConfiguration.name == name))


def get(session: Session, name: str, default: str | None = None, *, zone: Zone | None = None,
        cluster: Cluster | None = None, scope: tuple[str, int] | None = None) -> str | None:
    """The effective value: a scoped row (scope=(storagepool|imagestore|domain|account, id)), the cluster column,
    then zone override, then global."""
    if scope is not None:
        value = scoped_value(session, scope[0], scope[1], name)
        if value is not None:
            return value
    if cluster is not None and name in _CLUSTER_COLUMNS:
        return _ratio_text(session, name, float(getattr(cluster, _CLUSTER_COLUMNS[name])))
    if cluster is not None:
        value = scoped_value(session, "cluster", cluster.id, name)
        if value is not None:
            return value
    if zone is not None:
        scoped = zone_overrides(zone).get(name)
        if scoped is not None:
            return scoped
    value = global_value(session, name)
    if value is None:
        return default if default is not None else SETTINGS.get(name, (None,))[0]
    return value


def _ratio_text(session: Session, name: str, value: float) -> str:
    """A cluster ratio as text: the global value's spelling when equal, else the shortest form ("2", "1.5")."""
    glob = global_value(session, name)
    try:
        if glob is not None and float(glob) == value:
            return glob
    except ValueError:
        pass
    return f"{value:g}"


def get_float(session: Session, name: str, default: float, **scope: Any) -> float:
    value = get(session, name, None, **scope)
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def zone_overrides(zone: Zone) -> dict[str, str]:
    data = json.loads(zone.details_json or "{}")
    cfg = data.get("config") if isinstance(data, dict) else None
    return dict(cfg) if isinstance(cfg, dict) else {}


def set_scoped(session: Session, scope: str, resource_id: int, name: str, value: str | None) -> Configuration:
    """updateConfiguration/resetConfiguration for a storage pool, image store, domain, account or cluster."""
    row = session.get(Configuration, name)
    if row is None:
        raise ParamError(f"Config parameter with name {name} doesn't exist")
    if (row.scope or "").lower() != scope:
        raise ParamError(f"Invalid scope id provided for the parameter {name}")
    session.execute(delete(ScopedConfiguration).where(
        ScopedConfiguration.scope == scope, ScopedConfiguration.resource_id == resource_id,
        ScopedConfiguration.name == name))
    if value is not None:
        _validate(name, value)
        session.add(ScopedConfiguration(scope=scope, resource_id=resource_id, name=name, value=value))
    session.flush()
    return _scoped_copy(row, value if value is not None else row.value, scope)


def set_value(session: Session, name: str, value: str | None, *, zone: Zone | None = None,
              cluster: Cluster | None = None) -> Configuration:
    """updateConfiguration: global, or scoped to a zone/cluster. Returns the configuration row (with the scoped
    value set on it, unsaved, for the response)."""
    row = session.get(Configuration, name)
    if row is None:
        raise ParamError(f"Config parameter with name {name} doesn't exist")
    if cluster is not None:
        col = _CLUSTER_COLUMNS.get(name)
        if col is None:
            return set_scoped(session, "cluster", cluster.id, name, value)
        try:
            setattr(cluster, col, float(value or "1"))
        except ValueError:
            raise ParamError(f"Invalid value {value} for {name}: a number is expected") from None
        session.flush()
        return _scoped_copy(row, _ratio_text(session, name, float(getattr(cluster, col))), "cluster")
    if zone is not None:
        data = json.loads(zone.details_json or "{}")
        cfg = data.setdefault("config", {})
        if value is None:
            cfg.pop(name, None)
        else:
            cfg[name] = value
        zone.details_json = json.dumps(data)
        session.flush()
        return _scoped_copy(row, value, "zone")
    _validate(name, value)
    row.value = value
    session.flush()
    return row


def _scoped_copy(row: Configuration, value: str | None, scope: str) -> Configuration:
    return Configuration(name=row.name, value=value, default_value=row.default_value, category=row.category,
                         component=row.component, description=row.description, scope=scope,
                         is_dynamic=row.is_dynamic)


def _validate(name: str, value: str | None) -> None:
    if value is None:
        return
    known = catalogue().get(name)
    default = SETTINGS.get(name, (None,))[0] or (known.default if known else None)
    if known is not None and known.type == "Boolean":
        if value.lower() not in ("true", "false"):
            raise ParamError(f"Please enter either 'true' or 'false' for {name}")
        return
    if default is None:
        return
    try:
        float(default)
    except ValueError:
        return
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):  # Python reads "nan" and "inf"; CloudStack's parseInt/parseFloat do not
        raise ParamError(f"Invalid value {value} for configuration {name}: a number is expected")
