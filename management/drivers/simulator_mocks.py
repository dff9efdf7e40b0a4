"""Mock configurations of the simulator (CloudStack's MockConfigurationDao, kept in the simulator's own memory).

A mock names a CloudStack agent command (``StopCommand``, ``GetHostStatsCommand``...), the simulated hosts it
applies to (``None``: every simulated host) and what the "agent" does when the command reaches it:

* ``result:fail`` — the command fails (the driver operation raises DriverError);
* ``wait:<ms>`` / ``timeout:<ms>`` — the agent answers after that many milliseconds;
* ``enabled:false`` — the agent gives no answer at all (the operation fails as unanswered);
* ``jsonresponse`` — the answer's values: stats commands (``GetHostStatsCommand``, ``GetVmStatsCommand``) report
  its numbers (``cpuUtilization``, ``networkReadKBs``...); an answer with ``"result": false`` fails with its
  ``details``.

Values are ``;``-separated ``key:value`` pairs, as CloudStack's. ``count`` limits how many commands a mock
acts on; afterwards it stays listed with count 0 and does nothing. The simulator driver asks ``apply`` on every
operation, so the management server configures behaviour here (through its simulator service) without the
driver ever touching the database.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from management.drivers.errors import DriverError

# Agent command -> the driver operations that carry it out here.
AGENT_COMMANDS: dict[str, tuple[str, ...]] = {
    "StartCommand": ("spawn", "start"),
    "StopCommand": ("stop",),
    "RebootCommand": ("reboot",),
    "UnregisterVMCommand": ("destroy",),
    "CreateCommand": ("create_volume",),
    "CreateObjectCommand": ("create_volume", "snapshot_volume"),
    "DestroyCommand": ("delete_volume",),
    "DeleteCommand": ("delete_volume", "delete_volume_snapshot"),
    "AttachCommand": ("attach_volume",),
    "DettachCommand": ("detach_volume",),
    "ResizeVolumeCommand": ("resize_volume",),
    "RevertSnapshotCommand": ("revert_volume_snapshot",),
    "CopyCommand": ("prepare_template",),
    "PrimaryStorageDownloadCommand": ("prepare_template",),
    "ModifyStoragePoolCommand": ("ensure_pool",),
    "PlugNicCommand": ("plug_nic",),
    "UnPlugNicCommand": ("unplug_nic",),
    "GetVncPortCommand": ("console_address",),
    "GetHostStatsCommand": ("host_stats",),
    "PingCommand": ("host_stats",),
    "CheckHealthCommand": ("host_stats",),
    "ReadyCommand": ("connect",),
    "GetVmStatsCommand": ("domain_stats",),
    "CheckVirtualMachineCommand": ("get_domain",),
    "PingRoutingCommand": ("list_domains",),
}


@dataclass
class Mock:
    id: int
    name: str
    values: dict[str, str]
    count: int | None
    json_response: str | None
    host_keys: frozenset[str] | None  # None: every simulated host
    zone_id: int | None = None
    pod_id: int | None = None
    cluster_id: int | None = None
    host_id: int | None = None
    created: float = field(default_factory=time.time)
    removed: bool = False

    @property
    def active(self) -> bool:
        return not self.removed and (self.count is None or self.count > 0)


_LOCK = threading.Lock()
_MOCKS: dict[int, Mock] = {}
_IDS = itertools.count(1)


def parse_values(text: str) -> dict[str, str]:
    """``result:fail;wait:500`` -> {"result": "fail", "wait": "500"} (keys lower-cased)."""
    out: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition(":")
        if not sep:
            key, sep, value = item.partition("=")
        if key.strip():
            out[key.strip().lower()] = value.strip()
    return out


def configure(name: str, values: str, *, count: int | None = None, json_response: str | None = None,
              host_keys: frozenset[str] | None = None, zone_id: int | None = None, pod_id: int | None = None,
              cluster_id: int | None = None, host_id: int | None = None) -> Mock:
    with _LOCK:
        mock = Mock(id=next(_IDS), name=name, values=parse_values(values), count=count,
                    json_response=json_response, host_keys=host_keys, zone_id=zone_id, pod_id=pod_id,
                    cluster_id=cluster_id, host_id=host_id)
        _MOCKS[mock.id] = mock
        return mock


def get(mock_id: int) -> Mock | None:
    with _LOCK:
        mock = _MOCKS.get(mock_id)
        return None if mock is None or mock.removed else mock


def remove(mock_id: int) -> bool:
    with _LOCK:
        mock = _MOCKS.get(mock_id)
        if mock is None or mock.removed:
            return False
        mock.removed = True
        return True


def clear() -> None:
    """Forget every mock (tests)."""
    with _LOCK:
        _MOCKS.clear()


def _matching(host_key: str, op: str) -> Mock | None:
    for mock in sorted(_MOCKS.values(), key=lambda m: -m.id):  # the latest configuration wins
        if not mock.active or op not in AGENT_COMMANDS.get(mock.name, ()):
            continue
        if mock.host_keys is None or host_key in mock.host_keys:
            return mock
    return None


def apply(host_key: str, op: str) -> dict[str, Any] | None:
    """Acts out the mock (if any) for one operation on one simulated host: waits, fails, or returns the values
    of its ``jsonresponse`` for the operation to report."""
    with _LOCK:
        mock = _matching(host_key, op)
        if mock is None:
            return None
        if mock.count is not None:
            mock.count -= 1
        values, name, raw = dict(mock.values), mock.name, mock.json_response
    for key in ("wait", "timeout"):
        if values.get(key, "").isdigit():
            time.sleep(int(values[key]) / 1000.0)
    if values.get("enabled", "").lower() == "false":
        raise DriverError(f"Unable to get an answer to {name}: the simulated agent did not answer")
    if values.get("result", "").lower() == "fail":
        raise DriverError(f"Simulated failure of {name}")
    answer: dict[str, Any] = {}
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            answer = parsed
    if answer.get("result") is False:
        raise DriverError(str(answer.get("details") or f"Simulated failure of {name}"))
    return answer


def numbers(answer: dict[str, Any] | None, *keys: str) -> dict[str, float]:
    """The numeric values of an answer, looked up by CloudStack's field names at any nesting level."""
    found: dict[str, float] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in keys and isinstance(v, int | float) and not isinstance(v, bool):
                    found.setdefault(k, float(v))
                else:
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(answer or {})
    return found
