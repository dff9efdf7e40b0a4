"""An in-process fake XAPI pool, kept honest.

No real XAPI (XenServer/XCP-ng toolstack) runs on this machine; this object model stands in for a pool master
so the XenAPI driver can be exercised end to end. It is reached through the *real* ``XenAPI.Session`` client
with an in-process XML-RPC transport: every call is marshalled with ``xmlrpc.client`` exactly as on the wire
(int64 fields travel as strings, as XAPI sends them), answered in XAPI's ``{"Status", "Value" |
"ErrorDescription"}`` envelope, and the client library's own SESSION_INVALID re-login runs unchanged.

What it enforces (the rules a pool enforces, with XAPI's error codes and parameter shapes):

* ``OpaqueRef:<uuid>`` handles; an unknown ref raises ``HANDLE_INVALID [class, ref]``;
* sessions: ``SESSION_AUTHENTICATION_FAILED``, ``SESSION_INVALID [ref]`` after logout/expiry, ``HOST_IS_SLAVE
  [master address]`` for logins on a pool member;
* power states: ``VM_BAD_POWER_STATE [vm, expected, actual]`` (lower-case state names), e.g. destroying a
  running VM or starting a running one; ``HOST_NOT_ENOUGH_FREE_MEMORY [needed, available]`` on start;
* VBD/VDI plugging: ``DEVICE_ALREADY_ATTACHED``, ``DEVICE_ALREADY_DETACHED``, ``DEVICE_ALREADY_EXISTS``,
  ``VDI_IN_USE [vdi, operation]`` (a VDI plugged read-write into a running VM), a plugged VBD/VIF cannot be
  destroyed (``OPERATION_NOT_ALLOWED``);
* SR capacity: ``SR_FULL [requested, maximum]`` when a VDI create/clone/copy/snapshot/resize does not fit;
* ``Async.*`` calls return task refs; tasks go pending -> success/failure with progress, results in XAPI's
  ``<value>...</value>`` form and ``error_info`` lists;
* ``event.from(classes, token, timeout)`` returns recorded add/mod/del events and a new token, blocking up to
  ``timeout`` when there is nothing new;
* ``host.compute_free_memory`` and ``host_metrics.memory_free`` follow the running VMs.

Fault injection: :meth:`FakeXapi.set_unreachable` (connections refused), :meth:`FakeXapi.fill_sr`,
:meth:`FakeXapi.fail` (a named call fails, once or always; for ``Async.*`` the task fails),
:meth:`FakeXapi.expire_sessions`. Every call is recorded in :attr:`FakeXapi.calls` (without the session ref).
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
import uuid as uuidlib
import xmlrpc.client
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import XenAPI

GiB = 1024**3
MiB = 1024**2
NULL = "OpaqueRef:NULL"

# class name as in method names -> class name as in events / HANDLE_INVALID
CLASSES = ("pool", "host", "host_metrics", "host_cpu", "VM", "VBD", "VDI", "SR", "PBD", "VIF", "network", "PIF",
           "VLAN", "console", "task", "session")
_INT_FIELDS = {"memory_static_min", "memory_static_max", "memory_dynamic_min", "memory_dynamic_max",
               "VCPUs_max", "VCPUs_at_startup", "virtual_size", "physical_utilisation", "physical_size",
               "virtual_allocation", "memory_total", "memory_free", "domid", "tag", "number", "speed", "MTU",
               "memory_overhead"}
_VM_REQUIRED = ("name_label", "memory_static_min", "memory_static_max", "memory_dynamic_min",
                "memory_dynamic_max", "VCPUs_max", "VCPUs_at_startup", "actions_after_shutdown",
                "actions_after_reboot", "actions_after_crash", "PV_bootloader", "PV_kernel", "PV_ramdisk",
                "PV_args", "HVM_boot_policy", "HVM_boot_params", "other_config", "user_version", "is_a_template",
                "affinity")


class XapiError(Exception):
    """Raised inside the fake; becomes a Failure envelope with ``details``."""

    def __init__(self, *details: object) -> None:
        super().__init__(details)
        self.details = [str(d) for d in details]


def new_ref() -> str:
    return f"OpaqueRef:{uuidlib.uuid4()}"


def _wire(value: Any) -> Any:
    """Python -> what XAPI puts on the wire: int64 as decimal strings, everything else as is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


class FakeTransport:
    """An ``xmlrpc.client`` transport that answers from a :class:`FakeXapi` instead of the network."""

    def __init__(self, xapi: FakeXapi) -> None:
        self.xapi = xapi

    def request(self, host: str, handler: str, request_body: bytes, verbose: bool = False) -> tuple[Any, ...]:
        address = host.split(":", 1)[0].strip("[]")
        if self.xapi.is_unreachable(address):
            raise ConnectionRefusedError(111, f"Connection refused ({address})")
        if address not in self.xapi.addresses():
            raise OSError(113, f"No route to host ({address})")
        params, method = xmlrpc.client.loads(request_body, use_builtin_types=True)
        if method is None:
            raise ValueError("XML-RPC request body is not a methodCall (no method name)")
        envelope = self.xapi.dispatch(address, method, params)
        body = xmlrpc.client.dumps((envelope,), methodresponse=True, allow_none=True)
        parsed, _ = xmlrpc.client.loads(body, use_builtin_types=True)
        return parsed

    def close(self) -> None:
        pass


class FakeSession(XenAPI.Session):
    """The real client session, over :class:`FakeTransport`; plus what a host serves over plain HTTP
    (``PUT /import_raw_vdi``) as a method, since there is no HTTP server here."""

    def __init__(self, url: str, xapi: FakeXapi) -> None:
        super().__init__(url, transport=FakeTransport(xapi))
        self._fake_xapi = xapi
        self._fake_address = urlsplit(url).hostname or ""

    def import_raw_vdi(self, vdi: str, data: bytes) -> None:
        xapi = self._fake_xapi
        host = self._fake_address
        if xapi.is_unreachable(host):
            raise ConnectionRefusedError(111, f"Connection refused ({host})")
        try:
            xapi.import_raw_vdi(self._session, vdi, data)
        except XapiError as exc:
            raise XenAPI.Failure(exc.details) from None

    def export_raw_vdi(self, vdi: str) -> bytes:
        xapi = self._fake_xapi
        if xapi.is_unreachable(self._fake_address):
            raise ConnectionRefusedError(111, f"Connection refused ({self._fake_address})")
        try:
            return xapi.export_raw_vdi(self._session, vdi)
        except XapiError as exc:
            raise XenAPI.Failure(exc.details) from None


class FakeXapi:
    """One fake pool: a master plus members, their storage, networks, VMs, tasks and events."""

    def __init__(self, *, hosts: Iterable[tuple[str, str]] = (("xcp-ng-1", "192.0.2.11"),), username: str = "root",
                 password: str = "password", cpus: int = 8, sockets: int = 1, cpu_mhz: int = 2400,
                 host_memory: int = 32 * GiB, dom0_memory: int = 2 * GiB, product: tuple[str, str] = ("XCP-ng",
                 "8.2.1"), xen_version: str = "4.13.5", task_delay: float = 0.0,
                 local_sr_size: int = 100 * GiB, nfs_size: int = 1024 * GiB) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.username, self.password = username, password
        self.task_delay = task_delay
        self.nfs_size = nfs_size
        self.nfs_exports: set[str] | None = None  # None: every server:/path mounts
        self.objects: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in CLASSES}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.events: list[dict[str, Any]] = []
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._unreachable: set[str] | bool = set()
        self._failures: dict[str, list[Any]] = {}
        self._bridge_n = itertools.count(0)
        self._domid = itertools.count(1)
        self._installed: list[str] = []
        self._host_memory, self._dom0_memory = host_memory, dom0_memory
        hosts = list(hosts)
        if not hosts:
            raise ValueError("a pool needs at least one host")
        mgmt = self._create("network", {"name_label": "Pool-wide network associated with eth0", "bridge": "xenbr0",
                                        "MTU": 1500, "PIFs": [], "VIFs": [], "other_config": {},
                                        "name_description": ""}, event=False)
        self.management_network = mgmt
        for hostname, address in hosts:
            self._make_host(hostname, address, cpus, sockets, cpu_mhz, product, xen_version, mgmt,
                            local_sr_size)
        master = next(iter(self.objects["host"]))
        self.pool_ref = self._create("pool", {"name_label": "", "master": master, "default_SR": NULL,
                                               "other_config": {}}, event=False)

    # ------------------------------------------------------------------------------------------ building

    def _make_host(self, hostname: str, address: str, cpus: int, sockets: int, mhz: int, product: tuple[str, str],
                   xen_version: str, mgmt: str, local_sr_size: int) -> str:
        metrics = self._create("host_metrics", {"memory_total": self._host_memory, "memory_free": 0, "live": True},
                               event=False)
        host = self._create("host", {
            "name_label": hostname, "name_description": "", "hostname": hostname, "address": address,
            "enabled": True, "metrics": metrics, "host_CPUs": [], "resident_VMs": [], "PIFs": [], "PBDs": [],
            "software_version": {"product_brand": product[0], "product_version": product[1], "xen": xen_version,
                                 "platform_name": "XCP", "hostname": hostname},
            "cpu_info": {"cpu_count": str(cpus), "socket_count": str(sockets), "speed": f"{mhz}.000",
                         "vendor": "GenuineIntel", "modelname": "Fake Xeon"},
            "API_version_major": "2", "API_version_minor": "16", "memory_overhead": 0, "other_config": {},
            "dom0_memory": self._dom0_memory,
        }, event=False)
        for n in range(cpus):
            cpu = self._create("host_cpu", {"host": host, "number": n, "speed": mhz, "utilisation": 0.05,
                                            "modelname": "Fake Xeon"}, event=False)
            self.objects["host"][host]["host_CPUs"].append(cpu)
        pif = self._create("PIF", {"host": host, "network": mgmt, "device": "eth0", "VLAN": -1,
                                   "management": True, "physical": True, "MAC": _mac(), "currently_attached": True,
                                   "VLAN_master_of": NULL, "other_config": {}}, event=False)
        self.objects["host"][host]["PIFs"].append(pif)
        self.objects["network"][mgmt]["PIFs"].append(pif)
        dom0 = self._create("VM", self._vm_defaults({
            "name_label": f"Control domain on host: {hostname}", "is_control_domain": True,
            "power_state": "Running", "resident_on": host, "memory_static_max": self._dom0_memory,
            "memory_dynamic_max": self._dom0_memory, "memory_dynamic_min": self._dom0_memory,
            "memory_static_min": self._dom0_memory, "domid": 0}), event=False)
        self.objects["host"][host]["resident_VMs"].append(dom0)
        sr = self._create("SR", {"name_label": f"Local storage on {hostname}", "name_description": "", "type": "ext",
                                 "content_type": "user", "shared": False, "physical_size": local_sr_size,
                                 "physical_utilisation": 0, "virtual_allocation": 0, "VDIs": [], "PBDs": [],
                                 "other_config": {}, "sm_config": {}}, event=False)
        self._create("PBD", {"host": host, "SR": sr, "device_config": {"device": "/dev/sdb"},
                             "currently_attached": True, "other_config": {}}, event=False)
        self._update_free(host)
        return host

    @staticmethod
    def _vm_defaults(rec: dict[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {
            "name_label": "", "name_description": "", "power_state": "Halted", "is_a_template": False,
            "is_a_snapshot": False, "is_control_domain": False, "memory_static_min": 0, "memory_static_max": 0,
            "memory_dynamic_min": 0, "memory_dynamic_max": 0, "VCPUs_max": 1, "VCPUs_at_startup": 1,
            "VCPUs_params": {}, "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "",
            "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "", "HVM_boot_params": {},
            "platform": {}, "other_config": {}, "user_version": 1, "affinity": NULL, "resident_on": NULL,
            "domid": -1, "VBDs": [], "VIFs": [], "consoles": [], "allowed_operations": [], "blocked_operations": {},
            "xenstore_data": {}, "tags": [], "snapshots": [], "snapshot_of": NULL, "snapshot_time": "",
            "suspend_VDI": NULL, "guest_metrics": NULL,
        }
        base.update(rec)
        return base

    # ------------------------------------------------------------------------------------------ object store

    def _create(self, cls: str, rec: dict[str, Any], *, event: bool = True) -> str:
        ref = new_ref()
        rec = dict(rec)
        rec.setdefault("uuid", str(uuidlib.uuid4()))
        self.objects[cls][ref] = rec
        if event:
            self._event(cls, "add", ref)
        return ref

    def _get(self, cls: str, ref: str) -> dict[str, Any]:
        try:
            return self.objects[cls][ref]
        except (KeyError, TypeError):
            raise XapiError("HANDLE_INVALID", cls, ref) from None

    def _destroy(self, cls: str, ref: str) -> None:
        rec = self.objects[cls].pop(ref)
        self._event(cls, "del", ref, rec)

    def _event(self, cls: str, op: str, ref: str, rec: dict[str, Any] | None = None) -> None:
        seq = next(self._seq)
        self._last_seq = seq
        snap = copy.deepcopy(rec if rec is not None else self.objects[cls].get(ref, {}))
        self.events.append({"id": seq, "timestamp": f"{time.time():.6f}", "class": cls.lower(), "operation": op,
                            "ref": ref, "snapshot": snap})
        self._cond.notify_all()

    def _mod(self, cls: str, ref: str) -> None:
        self._event(cls, "mod", ref)

    # ------------------------------------------------------------------------------------------ test helpers

    def addresses(self) -> set[str]:
        return {h["address"] for h in self.objects["host"].values()}

    @property
    def master(self) -> str:
        return self.objects["pool"][self.pool_ref]["master"]

    @property
    def master_address(self) -> str:
        return self.objects["host"][self.master]["address"]

    def url(self, address: str | None = None) -> str:
        return f"http://{address or self.master_address}"

    def session_factory(self, url: str) -> XenAPI.Session:
        """``XenAPI.Session(url)`` whose transport is this fake (what the driver's session factory returns)."""
        return FakeSession(url, self)

    __call__ = session_factory

    def install(self) -> FakeXapi:
        """Register this pool's session factory for every host address (http and https), so drivers built
        from ``http://<address>`` URLs talk to it. Undo with :meth:`uninstall`."""
        from management.drivers.xenapi import session as xsession

        for address in sorted(self.addresses()):
            for scheme in ("http", "https"):
                url = f"{scheme}://{address}"
                xsession.register_session_factory(url, self.session_factory)
                self._installed.append(url)
        return self

    def uninstall(self) -> None:
        from management.drivers.xenapi import session as xsession

        for url in self._installed:
            xsession.unregister_session_factory(url)
        self._installed.clear()

    def set_unreachable(self, unreachable: bool = True, address: str | None = None) -> None:
        """Refuse connections to ``address`` (or to every host of the pool)."""
        with self._lock:
            if address is None:
                self._unreachable = bool(unreachable) or set()
            else:
                if not isinstance(self._unreachable, set):
                    self._unreachable = set()
                (self._unreachable.add if unreachable else self._unreachable.discard)(address)

    def is_unreachable(self, address: str) -> bool:
        with self._lock:
            return self._unreachable is True or (isinstance(self._unreachable, set) and address in self._unreachable)

    def fail(self, method: str, error: Iterable[str] = ("INTERNAL_ERROR", "injected failure"),
             times: int | None = 1) -> None:
        """The next ``times`` calls of ``method`` (e.g. ``"VM.start"``; ``None``: every call) fail with
        ``error``. For ``Async.<method>`` calls the task ends in failure with that ``error_info``."""
        with self._lock:
            self._failures[method] = [times, list(error)]

    def clear_faults(self) -> None:
        with self._lock:
            self._failures.clear()
            self._unreachable = set()

    def fill_sr(self, sr: str) -> None:
        """Make an SR (ref or name_label) full: nothing more fits."""
        with self._lock:
            ref = sr if sr in self.objects["SR"] else self.sr_by_name(sr)
            rec = self.objects["SR"][ref]
            rec["physical_size"] = rec["physical_utilisation"]
            self._mod("SR", ref)

    def expire_sessions(self) -> None:
        """Every session becomes invalid (as after a pool master restart)."""
        with self._lock:
            for rec in self.objects["session"].values():
                rec["valid"] = False
            self._cond.notify_all()

    def sr_by_name(self, name: str) -> str:
        for ref, rec in self.objects["SR"].items():
            if rec["name_label"] == name:
                return ref
        raise KeyError(name)

    def add_nfs_sr(self, name_label: str, server: str, serverpath: str, size: int | None = None) -> str:
        """An NFS SR the pool administrator attached already (plugged on every host)."""
        with self._lock:
            return self._sr_create(self.master, {"server": server, "serverpath": serverpath}, size or self.nfs_size,
                                   name_label, "", "nfs", "user", True, {})

    def call_names(self) -> list[str]:
        with self._lock:
            return [m for m, _ in self.calls]

    def records(self, cls: str, where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, dict]:
        with self._lock:
            return {r: copy.deepcopy(v) for r, v in self.objects[cls].items() if where is None or where(v)}

    def guest_vms(self) -> dict[str, dict]:
        return self.records("VM", lambda r: not r["is_control_domain"] and not r["is_a_template"])

    def set_power_state(self, vm: str, state: str) -> None:
        """Out-of-band change (a guest shutting itself down, a crash...): recorded as an event."""
        with self._lock:
            rec = self._get("VM", vm)
            if state == "Halted":
                self._halt(vm, rec)
            else:
                rec["power_state"] = state
                self._mod("VM", vm)

    # ------------------------------------------------------------------------------------------ dispatch

    def dispatch(self, address: str, method: str, params: tuple[Any, ...]) -> dict[str, Any]:
        try:
            value = self._dispatch(address, method, list(params))
        except XapiError as exc:
            return {"Status": "Failure", "ErrorDescription": exc.details}
        return {"Status": "Success", "Value": _wire(value)}

    def _dispatch(self, address: str, method: str, params: list[Any]) -> Any:
        with self._lock:
            if method.startswith("session.login") or method.startswith("session.slave_local_login"):
                self.calls.append((method, tuple(params[:1])))
                if address != self.master_address:
                    raise XapiError("HOST_IS_SLAVE", self.master_address)
                user, password = (params + ["", ""])[:2]
                if user != self.username or password != self.password:
                    raise XapiError("SESSION_AUTHENTICATION_FAILED", user, "Authentication failure")
                return self._create("session", {"valid": True, "this_user": user, "originator":
                                                (params[3] if len(params) > 3 else "")}, event=False)
            if not params:
                raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method, "1", "0")
            session, args = params[0], params[1:]
            self.calls.append((method, tuple(args)))
            if address != self.master_address:
                raise XapiError("HOST_IS_SLAVE", self.master_address)
            srec = self.objects["session"].get(session)
            if srec is None or not srec["valid"]:
                raise XapiError("SESSION_INVALID", session)
            if method in ("session.logout", "session.local_logout"):
                srec["valid"] = False
                self._cond.notify_all()
                return ""
            is_async = method.startswith("Async.")
            name = method[6:] if is_async else method
            failure = self._take_failure(method) or (self._take_failure(name) if is_async else None)
            if is_async:
                return self._start_task(name, args, failure)
            if failure:
                raise XapiError(*failure)
            if name == "event.from":
                return self._event_from(session, *args)
            return self._call(name, args)

    def _take_failure(self, method: str) -> list[str] | None:
        entry = self._failures.get(method)
        if entry is None:
            return None
        times, error = entry
        if times is not None:
            entry[0] = times - 1
            if entry[0] <= 0:
                del self._failures[method]
        return error

    def _call(self, name: str, args: list[Any]) -> Any:
        cls, _, op = name.partition(".")
        if cls not in self.objects or not op:
            raise XapiError("MESSAGE_METHOD_UNKNOWN", name)
        handler = getattr(self, f"_m_{cls}_{op}", None)
        if handler is not None:
            try:
                return handler(*args)
            except TypeError as exc:
                if "positional argument" in str(exc):
                    raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", name, "?", str(len(args))) from None
                raise
        return self._generic(cls, op, args)

    def _generic(self, cls: str, op: str, args: list[Any]) -> Any:
        table = self.objects[cls]
        if op == "get_all":
            return [r for r in table if cls != "session"]
        if op == "get_all_records":
            return {r: copy.deepcopy(v) for r, v in table.items()}
        if op == "get_record":
            return copy.deepcopy(self._get(cls, args[0]))
        if op == "get_by_uuid":
            for ref, rec in table.items():
                if rec.get("uuid") == args[0]:
                    return ref
            raise XapiError("UUID_INVALID", cls, args[0])
        if op == "get_by_name_label":
            return [r for r, v in table.items() if v.get("name_label") == args[0]]
        if op.startswith("get_"):
            rec = self._get(cls, args[0])
            fld = op[4:]
            if fld not in rec:
                raise XapiError("MESSAGE_METHOD_UNKNOWN", f"{cls}.{op}")
            return copy.deepcopy(rec[fld])
        if op.startswith("set_") and op[4:] in ("name_label", "name_description", "other_config", "affinity",
                                                 "tags", "xenstore_data", "platform", "VCPUs_at_startup"):
            rec = self._get(cls, args[0])
            value = args[1]
            if op[4:] in _INT_FIELDS:
                value = int(value)
            rec[op[4:]] = value
            self._mod(cls, args[0])
            return ""
        if op.startswith("add_to_"):
            rec = self._get(cls, args[0])
            fld = op[7:]
            if not isinstance(rec.get(fld), dict):
                raise XapiError("MESSAGE_METHOD_UNKNOWN", f"{cls}.{op}")
            if args[1] in rec[fld]:
                raise XapiError("MAP_DUPLICATE_KEY", cls, fld, args[0], args[1])
            rec[fld][args[1]] = args[2]
            self._mod(cls, args[0])
            return ""
        if op.startswith("remove_from_"):
            rec = self._get(cls, args[0])
            fld = op[12:]
            if not isinstance(rec.get(fld), dict):
                raise XapiError("MESSAGE_METHOD_UNKNOWN", f"{cls}.{op}")
            rec[fld].pop(args[1], None)
            self._mod(cls, args[0])
            return ""
        raise XapiError("MESSAGE_METHOD_UNKNOWN", f"{cls}.{op}")

    # ------------------------------------------------------------------------------------------ tasks

    def _start_task(self, name: str, args: list[Any], failure: list[str] | None) -> str:
        if name.partition(".")[0] not in self.objects:
            raise XapiError("MESSAGE_METHOD_UNKNOWN", f"Async.{name}")
        task = self._create("task", {"name_label": f"Async.{name}", "name_description": "", "status": "pending",
                                     "progress": 0.0, "result": "", "error_info": [], "created": time.time(),
                                     "finished": 0.0, "other_config": {}})

        def run() -> None:
            steps = 4 if self.task_delay else 1
            for i in range(steps):
                if self.task_delay:
                    time.sleep(self.task_delay / steps)
                with self._lock:
                    rec = self.objects["task"].get(task)
                    if rec is None or rec["status"] != "pending":
                        return
                    rec["progress"] = round((i + 1) / (steps + 1), 2)
                    self._mod("task", task)
            with self._lock:
                rec = self.objects["task"].get(task)
                if rec is None or rec["status"] != "pending":
                    return
                try:
                    if failure:
                        raise XapiError(*failure)
                    value = self._call(name, args)
                    rec["status"], rec["progress"] = "success", 1.0
                    rec["result"] = "" if value in ("", None) else f"<value>{_xml_escape(str(value))}</value>"
                except XapiError as exc:
                    rec["status"], rec["error_info"], rec["progress"] = "failure", exc.details, 1.0
                rec["finished"] = time.time()
                self._mod("task", task)

        threading.Thread(target=run, name=f"fake-xapi-task-{name}", daemon=True).start()
        return task

    def _m_task_destroy(self, task: str) -> str:
        self._get("task", task)
        self._destroy("task", task)
        return ""

    def _m_task_cancel(self, task: str) -> str:
        rec = self._get("task", task)
        if rec["status"] == "pending":
            rec["status"], rec["error_info"] = "cancelled", ["TASK_CANCELLED", task]
            self._mod("task", task)
        return ""

    # ------------------------------------------------------------------------------------------ events

    def _event_from(self, session: str, classes: list[str], token: str, timeout: Any) -> dict[str, Any]:
        wanted = {c.lower() for c in classes}

        def match(cls: str) -> bool:
            return "*" in wanted or cls.lower() in wanted

        if token == "":
            events = []
            for cls, table in self.objects.items():
                if not match(cls) or cls == "session":
                    continue
                for ref, rec in table.items():
                    events.append({"id": self._last_seq, "timestamp": f"{time.time():.6f}", "class": cls.lower(),
                                   "operation": "add", "ref": ref, "snapshot": copy.deepcopy(rec)})
            return {"events": events, "valid_ref_counts": {}, "token": f"{self._last_seq:020d}"}
        try:
            since = int(token)
        except ValueError:
            raise XapiError("EVENT_FROM_TOKEN_PARSE_FAILURE", token) from None
        deadline = time.monotonic() + float(timeout)
        while True:
            found = [e for e in self.events if e["id"] > since and match(e["class"])]
            if found:
                break
            srec = self.objects["session"].get(session)
            if srec is None or not srec["valid"]:
                raise XapiError("SESSION_INVALID", session)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(min(left, 0.5))
        return {"events": copy.deepcopy(found), "valid_ref_counts": {}, "token": f"{self._last_seq:020d}"}

    # ------------------------------------------------------------------------------------------ host

    def _used_memory(self, host: str) -> int:
        total = 0
        for rec in self.objects["VM"].values():
            if rec["resident_on"] == host and rec["power_state"] in ("Running", "Paused"):
                total += int(rec["memory_static_max"])
        return total

    def _free_memory(self, host: str) -> int:
        metrics = self.objects["host_metrics"][self.objects["host"][host]["metrics"]]
        return max(int(metrics["memory_total"]) - self._used_memory(host), 0)

    def _update_free(self, host: str) -> None:
        metrics_ref = self.objects["host"][host]["metrics"]
        self.objects["host_metrics"][metrics_ref]["memory_free"] = self._free_memory(host)

    def _m_host_compute_free_memory(self, host: str) -> int:
        self._get("host", host)
        return self._free_memory(host)

    def _m_pool_get_master(self, pool: str) -> str:
        return self._get("pool", pool)["master"]

    # ------------------------------------------------------------------------------------------ storage

    def _sr_create(self, host: str, device_config: dict[str, str], physical_size: Any, name_label: str,
                   name_description: str, type_: str, content_type: str, shared: bool,
                   sm_config: dict[str, str]) -> str:
        self._get("host", host)
        if type_ == "nfs":
            server, path = device_config.get("server"), device_config.get("serverpath")
            if not server or not path:
                raise XapiError("SR_BACKEND_FAILURE_37", "", "You must specify a server and serverpath "
                                "[opterr=server, serverpath]", "")
            if self.nfs_exports is not None and f"{server}:{path}" not in self.nfs_exports:
                raise XapiError("SR_BACKEND_FAILURE_73", "", f"NFS mount error [opterr=mount failed for "
                                f"{server}:{path}]", "")
            size = self.nfs_size
        elif type_ in ("file", "ext", "lvm"):
            size = int(physical_size) if int(physical_size or 0) > 0 else 100 * GiB
        else:
            raise XapiError("SR_UNKNOWN_DRIVER", type_)
        sr = self._create("SR", {"name_label": name_label, "name_description": name_description, "type": type_,
                                 "content_type": content_type, "shared": bool(shared), "physical_size": size,
                                 "physical_utilisation": 0, "virtual_allocation": 0, "VDIs": [], "PBDs": [],
                                 "other_config": {}, "sm_config": dict(sm_config)})
        hosts = list(self.objects["host"]) if shared else [host]
        for h in hosts:
            pbd = self._create("PBD", {"host": h, "SR": sr, "device_config": dict(device_config),
                                       "currently_attached": True, "other_config": {}})
            self.objects["SR"][sr]["PBDs"].append(pbd)
        return sr

    def _m_SR_create(self, host: str, device_config: dict, physical_size: Any, name_label: str,
                     name_description: str, type_: str, content_type: str, shared: bool,
                     sm_config: dict | None = None) -> str:
        return self._sr_create(host, device_config, physical_size, name_label, name_description, type_,
                               content_type, shared, sm_config or {})

    def _m_SR_scan(self, sr: str) -> str:
        self._get("SR", sr)
        return ""

    def _claim(self, sr: str, size: int) -> None:
        rec = self._get("SR", sr)
        free = int(rec["physical_size"]) - int(rec["physical_utilisation"])
        if size > free:
            raise XapiError("SR_FULL", str(size), str(max(free, 0)))
        rec["physical_utilisation"] = int(rec["physical_utilisation"]) + size
        rec["virtual_allocation"] = int(rec["virtual_allocation"]) + size
        self._mod("SR", sr)

    def _new_vdi(self, sr: str, size: int, name_label: str, other_config: dict[str, str], **extra: Any) -> str:
        self._claim(sr, size)
        vdi = self._create("VDI", {"name_label": name_label, "name_description": "", "SR": sr,
                                   "virtual_size": size, "physical_utilisation": size, "type": "user",
                                   "sharable": False, "read_only": False, "VBDs": [], "other_config": other_config,
                                   "is_a_snapshot": False, "snapshot_of": NULL, "snapshots": [], "sm_config": {},
                                   "location": str(uuidlib.uuid4()), "managed": True, "content": b"",
                                   **extra})
        self.objects["VDI"][vdi]["location"] = self.objects["VDI"][vdi]["uuid"]
        self.objects["SR"][sr]["VDIs"].append(vdi)
        return vdi

    def _m_VDI_create(self, rec: dict[str, Any]) -> str:
        for fld in ("SR", "virtual_size", "type", "sharable", "read_only", "other_config"):
            if fld not in rec:
                raise XapiError("FIELD_TYPE_ERROR", fld)
        self._get("SR", rec["SR"])
        size = int(rec["virtual_size"])
        if size < 0:
            raise XapiError("VALUE_NOT_SUPPORTED", "virtual_size", str(size), "negative size")
        return self._new_vdi(rec["SR"], size, rec.get("name_label", ""), dict(rec["other_config"]),
                             type=rec["type"], sharable=bool(rec["sharable"]), read_only=bool(rec["read_only"]))

    def _copy_vdi(self, vdi: str, sr: str, **extra: Any) -> str:
        src = self._get("VDI", vdi)
        new = self._new_vdi(sr, int(src["virtual_size"]), src["name_label"], dict(src["other_config"]), **extra)
        self.objects["VDI"][new]["content"] = src.get("content", b"")
        return new

    def _m_VDI_clone(self, vdi: str, driver_params: dict | None = None) -> str:
        return self._copy_vdi(vdi, self._get("VDI", vdi)["SR"])

    def _m_VDI_copy(self, vdi: str, sr: str, base_vdi: str = NULL, into_vdi: str = NULL) -> str:
        self._get("SR", sr)
        return self._copy_vdi(vdi, sr)

    def _m_VDI_snapshot(self, vdi: str, driver_params: dict | None = None) -> str:
        src = self._get("VDI", vdi)
        snap = self._copy_vdi(vdi, src["SR"], is_a_snapshot=True, snapshot_of=vdi, snapshot_time=time.time())
        src["snapshots"].append(snap)
        self._mod("VDI", vdi)
        return snap

    def _m_VDI_resize(self, vdi: str, size: Any) -> str:
        rec = self._get("VDI", vdi)
        size = int(size)
        if size < int(rec["virtual_size"]):
            raise XapiError("VDI_TOO_SMALL", vdi, str(rec["virtual_size"]))
        self._claim(rec["SR"], size - int(rec["virtual_size"]))
        rec["virtual_size"] = rec["physical_utilisation"] = size
        self._mod("VDI", vdi)
        return ""

    def _m_VDI_destroy(self, vdi: str) -> str:
        rec = self._get("VDI", vdi)
        for vbd in list(rec["VBDs"]):
            if self.objects["VBD"].get(vbd, {}).get("currently_attached"):
                raise XapiError("VDI_IN_USE", vdi, "destroy")
        for vbd in list(rec["VBDs"]):  # unplugged VBDs go with their VDI, as in xapi
            vbd_rec = self.objects["VBD"].get(vbd)
            if vbd_rec is not None:
                vm = self.objects["VM"].get(vbd_rec["VM"])
                if vm is not None and vbd in vm["VBDs"]:
                    vm["VBDs"].remove(vbd)
                self._destroy("VBD", vbd)
        sr = self.objects["SR"].get(rec["SR"])
        if sr is not None:
            sr["VDIs"].remove(vdi)
            sr["physical_utilisation"] = max(int(sr["physical_utilisation"]) - int(rec["physical_utilisation"]), 0)
            sr["virtual_allocation"] = max(int(sr["virtual_allocation"]) - int(rec["virtual_size"]), 0)
            self._mod("SR", rec["SR"])
        parent = self.objects["VDI"].get(rec["snapshot_of"])
        if parent is not None and vdi in parent["snapshots"]:
            parent["snapshots"].remove(vdi)
        self._destroy("VDI", vdi)
        return ""

    def import_raw_vdi(self, session: str, vdi: str, data: bytes) -> None:
        """What an HTTP PUT to ``/import_raw_vdi?session_id=<ref>&vdi=<ref>`` does on a real host."""
        with self._lock:
            srec = self.objects["session"].get(session)
            if srec is None or not srec["valid"]:
                raise XapiError("SESSION_INVALID", session)
            rec = self._get("VDI", vdi)
            if len(data) > int(rec["virtual_size"]):
                raise XapiError("VDI_TOO_SMALL", vdi, str(rec["virtual_size"]))
            rec["content"] = bytes(data)
            self.calls.append(("HTTP PUT /import_raw_vdi", (vdi, len(data))))
            self._mod("VDI", vdi)

    def export_raw_vdi(self, session: str, vdi: str) -> bytes:
        """What an HTTP GET of ``/export_raw_vdi?session_id=<ref>&vdi=<ref>&format=raw`` returns: the whole
        virtual size."""
        with self._lock:
            srec = self.objects["session"].get(session)
            if srec is None or not srec["valid"]:
                raise XapiError("SESSION_INVALID", session)
            rec = self._get("VDI", vdi)
            self.calls.append(("HTTP GET /export_raw_vdi", (vdi,)))
            data = bytes(rec.get("content", b""))
            return data + b"\0" * max(int(rec["virtual_size"]) - len(data), 0)

    # ------------------------------------------------------------------------------------------ VM

    def _m_VM_create(self, rec: dict[str, Any]) -> str:
        for fld in _VM_REQUIRED:
            if fld not in rec:
                raise XapiError("FIELD_TYPE_ERROR", fld)
        smin, smax = int(rec["memory_static_min"]), int(rec["memory_static_max"])
        dmin, dmax = int(rec["memory_dynamic_min"]), int(rec["memory_dynamic_max"])
        if not smin <= dmin <= dmax <= smax:
            raise XapiError("MEMORY_CONSTRAINT_VIOLATION", "Memory limits must satisfy: static_min <= "
                            "dynamic_min <= dynamic_max <= static_max")
        if not 0 < int(rec["VCPUs_at_startup"]) <= int(rec["VCPUs_max"]):
            raise XapiError("VALUE_NOT_SUPPORTED", "VCPUs_at_startup", str(rec["VCPUs_at_startup"]),
                            "must be between 1 and VCPUs_max")
        if rec["affinity"] != NULL:
            self._get("host", rec["affinity"])
        data = self._vm_defaults({k: v for k, v in rec.items() if k not in ("power_state", "resident_on", "VBDs",
                                                                               "VIFs", "consoles", "domid")})
        for fld in _INT_FIELDS & data.keys():
            data[fld] = int(data[fld])
        return self._create("VM", data)

    def _power(self, vm: str, expected: str | tuple[str, ...]) -> dict[str, Any]:
        rec = self._get("VM", vm)
        allowed = (expected,) if isinstance(expected, str) else expected
        if rec["power_state"] not in allowed:
            raise XapiError("VM_BAD_POWER_STATE", vm, allowed[0].lower(), rec["power_state"].lower())
        return rec

    def _m_VM_start(self, vm: str, start_paused: bool = False, force: bool = False) -> str:
        rec = self._get("VM", vm)
        host = rec["affinity"] if rec["affinity"] in self.objects["host"] else self.master
        return self._m_VM_start_on(vm, host, start_paused, force)

    def _m_VM_start_on(self, vm: str, host: str, start_paused: bool = False, force: bool = False) -> str:
        rec = self._power(vm, "Halted")
        self._get("host", host)
        if rec["is_a_template"]:
            raise XapiError("VM_IS_TEMPLATE", vm)
        need = int(rec["memory_static_max"])
        free = self._free_memory(host)
        if need > free:
            raise XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", str(need), str(free))
        for vbd in rec["VBDs"]:
            vbd_rec = self.objects["VBD"][vbd]
            if vbd_rec["empty"]:
                continue
            vdi = vbd_rec["VDI"]
            if vdi not in self.objects["VDI"]:
                raise XapiError("VDI_MISSING", rec.get("SR", NULL), vdi)
            if vbd_rec["mode"] == "RW" and self._vdi_plugged_elsewhere(vdi, vbd):
                raise XapiError("VDI_IN_USE", vdi, "start")
        for vif in rec["VIFs"]:
            net = self.objects["VIF"][vif]["network"]
            if net not in self.objects["network"]:
                raise XapiError("HANDLE_INVALID", "network", net)
        rec["power_state"] = "Paused" if start_paused else "Running"
        rec["resident_on"] = host
        rec["domid"] = next(self._domid)
        self.objects["host"][host]["resident_VMs"].append(vm)
        for vbd in rec["VBDs"]:
            self.objects["VBD"][vbd]["currently_attached"] = True
            self._mod("VBD", vbd)
        for vif in rec["VIFs"]:
            self.objects["VIF"][vif]["currently_attached"] = True
            self._mod("VIF", vif)
        address = self.objects["host"][host]["address"]
        for protocol in ("rfb", "vt100"):
            con = self._create("console", {"protocol": protocol, "VM": vm, "location": "", "other_config": {}})
            crec = self.objects["console"][con]
            crec["location"] = f"https://{address}/console?uuid={crec['uuid']}"
            rec["consoles"].append(con)
        self._update_free(host)
        self._mod("VM", vm)
        return ""

    def _vdi_plugged_elsewhere(self, vdi: str, own_vbd: str) -> bool:
        for other in self.objects["VDI"][vdi]["VBDs"]:
            o = self.objects["VBD"].get(other)
            if other != own_vbd and o is not None and o["currently_attached"] and o["mode"] == "RW":
                return True
        return False

    def _halt(self, vm: str, rec: dict[str, Any]) -> None:
        host = rec["resident_on"]
        rec["power_state"], rec["resident_on"], rec["domid"] = "Halted", NULL, -1
        if host in self.objects["host"] and vm in self.objects["host"][host]["resident_VMs"]:
            self.objects["host"][host]["resident_VMs"].remove(vm)
        for vbd in rec["VBDs"]:
            self.objects["VBD"][vbd]["currently_attached"] = False
            self._mod("VBD", vbd)
        for vif in rec["VIFs"]:
            self.objects["VIF"][vif]["currently_attached"] = False
            self._mod("VIF", vif)
        for con in rec["consoles"]:
            self._destroy("console", con)
        rec["consoles"] = []
        if host in self.objects["host"]:
            self._update_free(host)
        self._mod("VM", vm)

    def _m_VM_clean_shutdown(self, vm: str) -> str:
        self._halt(vm, self._power(vm, "Running"))
        return ""

    def _m_VM_hard_shutdown(self, vm: str) -> str:
        self._halt(vm, self._power(vm, ("Running", "Paused", "Suspended")))
        return ""

    def _m_VM_clean_reboot(self, vm: str) -> str:
        self._power(vm, "Running")
        self.objects["VM"][vm]["domid"] = next(self._domid)
        self._mod("VM", vm)
        return ""

    _m_VM_hard_reboot = _m_VM_clean_reboot

    def _m_VM_pause(self, vm: str) -> str:
        self._power(vm, "Running")["power_state"] = "Paused"
        self._mod("VM", vm)
        return ""

    def _m_VM_unpause(self, vm: str) -> str:
        self._power(vm, "Paused")["power_state"] = "Running"
        self._mod("VM", vm)
        return ""

    def _m_VM_destroy(self, vm: str) -> str:
        rec = self._get("VM", vm)
        if not rec["is_a_snapshot"]:
            self._power(vm, "Halted")
        parent = self.objects["VM"].get(rec["snapshot_of"])
        if parent is not None and vm in parent["snapshots"]:
            parent["snapshots"].remove(vm)
        if rec["is_control_domain"]:
            raise XapiError("OPERATION_NOT_ALLOWED", "the control domain cannot be destroyed")
        for vbd in list(rec["VBDs"]):
            vdi = self.objects["VBD"][vbd]["VDI"]
            if vdi in self.objects["VDI"]:
                self.objects["VDI"][vdi]["VBDs"].remove(vbd)
            self._destroy("VBD", vbd)
        for vif in list(rec["VIFs"]):
            net = self.objects["network"].get(self.objects["VIF"][vif]["network"])
            if net is not None and vif in net["VIFs"]:
                net["VIFs"].remove(vif)
            self._destroy("VIF", vif)
        self._destroy("VM", vm)
        return ""

    def _m_VM_get_consoles(self, vm: str) -> list[str]:
        return list(self._get("VM", vm)["consoles"])

    def _m_VM_resume_on(self, vm: str, host: str, start_paused: bool = False, force: bool = False) -> str:
        rec = self._power(vm, "Suspended")
        rec["power_state"] = "Halted"  # start_on from the memory image: the same checks and plugging
        try:
            self._m_VM_start_on(vm, host, start_paused, force)
        except XapiError:
            rec["power_state"] = "Suspended"
            raise
        suspended = rec["suspend_VDI"]
        rec["suspend_VDI"] = NULL
        if suspended in self.objects["VDI"]:
            self._m_VDI_destroy(suspended)
        return ""

    def _m_VM_resume(self, vm: str, start_paused: bool = False, force: bool = False) -> str:
        rec = self._get("VM", vm)
        host = rec["affinity"] if rec["affinity"] in self.objects["host"] else self.master
        return self._m_VM_resume_on(vm, host, start_paused, force)

    # ------------------------------------------------------------------------------------------ VM snapshots

    def _snapshot_vm(self, vm: str, name: str, *, memory: bool) -> str:
        """What VM.snapshot / VM.checkpoint make: a VM record marked is_a_snapshot (metadata copied, Halted or
        Suspended), a snapshot of every disk VDI on a VBD of its own, CD drives as they are."""
        rec = self._get("VM", vm)
        if rec["is_a_snapshot"] or rec["is_control_domain"] or rec["is_a_template"]:
            raise XapiError("OPERATION_NOT_ALLOWED", "only VMs can be snapshotted")
        keep = {k: copy.deepcopy(v) for k, v in rec.items()
                if k not in ("uuid", "VBDs", "VIFs", "consoles", "snapshots", "resident_on", "domid", "power_state",
                             "name_label", "suspend_VDI")}
        stamp = time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime())
        snap = self._create("VM", self._vm_defaults(dict(keep, name_label=name, is_a_snapshot=True, snapshot_of=vm,
                                                         snapshot_time=stamp,
                                                         power_state="Suspended" if memory else "Halted")))
        srec = self.objects["VM"][snap]
        first_sr = None
        for vbd in rec["VBDs"]:
            b = self.objects["VBD"][vbd]
            vdi = b["VDI"]
            if not b["empty"] and b["type"] == "Disk":
                vdi = self._m_VDI_snapshot(vdi)
                first_sr = first_sr or self.objects["VDI"][vdi]["SR"]
            data = {k: b[k] for k in ("bootable", "mode", "type", "empty", "other_config")}
            new = self._create("VBD", dict(data, VM=snap, VDI=vdi, userdevice=b["userdevice"], currently_attached=False,
                                           device="", qos_algorithm_type="", unpluggable=True))
            srec["VBDs"].append(new)
            if vdi in self.objects["VDI"]:
                self.objects["VDI"][vdi]["VBDs"].append(new)
        if memory and first_sr is not None:
            srec["suspend_VDI"] = self._new_vdi(first_sr, int(rec["memory_static_max"]), f"Suspend image of {name}",
                                                {}, type="suspend")
        rec["snapshots"].append(snap)
        self._mod("VM", vm)
        return snap

    def _m_VM_snapshot(self, vm: str, new_name: str, ignore_vdis: list | None = None) -> str:
        return self._snapshot_vm(vm, new_name, memory=False)

    def _m_VM_checkpoint(self, vm: str, new_name: str) -> str:
        self._power(vm, "Running")
        return self._snapshot_vm(vm, new_name, memory=True)

    def _m_VM_snapshot_with_quiesce(self, vm: str, new_name: str) -> str:
        rec = self._get("VM", vm)
        if rec["guest_metrics"] == NULL:  # no PV tools / VSS provider answers in the fake's guests
            raise XapiError("VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED", vm, "VSS plugin not installed on this VM")
        return self._snapshot_vm(vm, new_name, memory=False)  # pragma: no cover - no fake guest has tools

    def _m_VM_revert(self, snapshot: str) -> str:
        srec = self._get("VM", snapshot)
        vm = srec["snapshot_of"]
        if not srec["is_a_snapshot"] or vm not in self.objects["VM"]:
            raise XapiError("VM_REVERT_FAILED", vm, snapshot)
        rec = self.objects["VM"][vm]
        if rec["power_state"] != "Halted":
            self._halt(vm, rec)
        if rec["suspend_VDI"] in self.objects["VDI"]:
            self._m_VDI_destroy(rec["suspend_VDI"])
        rec["suspend_VDI"] = NULL
        # the disks in the snapshot replace the VM's disks on the same devices (those VDIs are destroyed)
        devices = {self.objects["VBD"][b]["userdevice"] for b in srec["VBDs"]
                   if self.objects["VBD"][b]["type"] == "Disk"}
        for vbd in list(rec["VBDs"]):
            b = self.objects["VBD"][vbd]
            if b["type"] == "Disk" and b["userdevice"] in devices:
                old = b["VDI"]
                self._m_VBD_destroy(vbd)
                self._m_VDI_destroy(old)
            elif b["type"] == "CD":
                self._m_VBD_destroy(vbd)
        for vbd in srec["VBDs"]:
            b = self.objects["VBD"][vbd]
            vdi = b["VDI"]
            if b["type"] == "Disk":
                vdi = self._m_VDI_clone(vdi)
                self.objects["VDI"][vdi]["name_label"] = self.objects["VDI"][b["VDI"]]["name_label"]
            self._m_VBD_create({k: b[k] for k in ("bootable", "mode", "type", "empty", "other_config",
                                                   "userdevice")} | {"VM": vm, "VDI": vdi})
        if srec["power_state"] == "Suspended":
            rec["power_state"] = "Suspended"
            sr = self.objects["VDI"][srec["suspend_VDI"]]["SR"]
            rec["suspend_VDI"] = self._copy_vdi(srec["suspend_VDI"], sr)
        self._mod("VM", vm)
        return ""

    # ------------------------------------------------------------------------------------------ migration

    def _move(self, vm: str, rec: dict[str, Any], host: str) -> None:
        old = rec["resident_on"]
        need = int(rec["memory_static_max"])
        free = self._free_memory(host)
        if need > free:
            raise XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", str(need), str(free))
        if vm in self.objects["host"][old]["resident_VMs"]:
            self.objects["host"][old]["resident_VMs"].remove(vm)
        self.objects["host"][host]["resident_VMs"].append(vm)
        rec["resident_on"], rec["domid"] = host, next(self._domid)
        address = self.objects["host"][host]["address"]
        for con in rec["consoles"]:
            crec = self.objects["console"][con]
            crec["location"] = f"https://{address}/console?uuid={crec['uuid']}"
        self._update_free(old)
        self._update_free(host)
        self._mod("VM", vm)

    def _check_migrate(self, vm: str, host: str, moved: dict[str, str]) -> dict[str, Any]:
        rec = self._power(vm, "Running")
        self._get("host", host)
        if rec["resident_on"] == host:
            raise XapiError("OPERATION_NOT_ALLOWED", "the VM is already resident on that host")
        for vbd in rec["VBDs"]:
            b = self.objects["VBD"][vbd]
            if b["empty"] or b["VDI"] in moved:
                continue
            sr = self.objects["SR"][self.objects["VDI"][b["VDI"]]["SR"]]
            if not sr["shared"]:
                raise XapiError("VM_REQUIRES_SR", vm, self.objects["VDI"][b["VDI"]]["SR"])
        return rec

    def _m_VM_pool_migrate(self, vm: str, host: str, options: dict | None = None) -> str:
        self._move(vm, self._check_migrate(vm, host, {}), host)
        return ""

    def _m_host_migrate_receive(self, host: str, network: str, options: dict | None = None) -> dict[str, str]:
        self._get("host", host)
        self._get("network", network)
        return {"host": host, "master": self.master_address, "xenops": f"http://{self.master_address}/services/"
                "xenops", "SM": f"http://{self.master_address}/services/SM"}

    def _m_VM_migrate_send(self, vm: str, dest: dict[str, str], live: bool, vdi_map: dict[str, str],
                           vif_map: dict | None = None, options: dict | None = None) -> str:
        host = dest.get("host", NULL)
        for vdi, sr in vdi_map.items():
            self._get("VDI", vdi)
            self._get("SR", sr)
        rec = self._check_migrate(vm, host, vdi_map)
        for vbd in rec["VBDs"]:  # storage motion: each mapped disk copied to its SR, the source deleted
            b = self.objects["VBD"][vbd]
            old = b["VDI"]
            if b["empty"] or old not in vdi_map:
                continue
            new = self._copy_vdi(old, vdi_map[old])
            self.objects["VDI"][old]["VBDs"].remove(vbd)
            b["VDI"] = new
            self.objects["VDI"][new]["VBDs"].append(vbd)
            self._mod("VBD", vbd)
            self._m_VDI_destroy(old)
        self._move(vm, rec, host)
        return ""

    # ------------------------------------------------------------------------------------------ CD drives

    def _m_VBD_insert(self, vbd: str, vdi: str) -> str:
        rec = self._get("VBD", vbd)
        self._get("VDI", vdi)
        if rec["type"] != "CD":
            raise XapiError("VBD_NOT_REMOVABLE_MEDIA", vbd)
        if not rec["empty"]:
            raise XapiError("VBD_NOT_EMPTY", vbd)
        rec["VDI"], rec["empty"] = vdi, False
        self.objects["VDI"][vdi]["VBDs"].append(vbd)
        self._mod("VBD", vbd)
        return ""

    def _m_VBD_eject(self, vbd: str) -> str:
        rec = self._get("VBD", vbd)
        if rec["type"] != "CD":
            raise XapiError("VBD_NOT_REMOVABLE_MEDIA", vbd)
        if rec["empty"]:
            raise XapiError("VBD_IS_EMPTY", vbd)
        vdi = self.objects["VDI"].get(rec["VDI"])
        if vdi is not None and vbd in vdi["VBDs"]:
            vdi["VBDs"].remove(vbd)
        rec["VDI"], rec["empty"] = NULL, True
        self._mod("VBD", vbd)
        return ""

    # ------------------------------------------------------------------------------------------ VBD / VIF

    def _m_VBD_create(self, rec: dict[str, Any]) -> str:
        for fld in ("VM", "VDI", "userdevice", "bootable", "mode", "type", "empty", "other_config"):
            if fld not in rec:
                raise XapiError("FIELD_TYPE_ERROR", fld)
        vm = self._get("VM", rec["VM"])
        if not rec["empty"]:
            self._get("VDI", rec["VDI"])
        for other in vm["VBDs"]:
            if self.objects["VBD"][other]["userdevice"] == str(rec["userdevice"]):
                raise XapiError("DEVICE_ALREADY_EXISTS", str(rec["userdevice"]))
        data = {k: rec[k] for k in ("VM", "VDI", "bootable", "mode", "type", "empty", "other_config")}
        data.update(userdevice=str(rec["userdevice"]), currently_attached=False, device="",
                    qos_algorithm_type=rec.get("qos_algorithm_type", ""), unpluggable=rec.get("unpluggable", True))
        vbd = self._create("VBD", data)
        vm["VBDs"].append(vbd)
        if not rec["empty"]:
            self.objects["VDI"][rec["VDI"]]["VBDs"].append(vbd)
        self._mod("VM", rec["VM"])
        return vbd

    def _m_VBD_plug(self, vbd: str) -> str:
        rec = self._get("VBD", vbd)
        self._power(rec["VM"], "Running")
        if rec["currently_attached"]:
            raise XapiError("DEVICE_ALREADY_ATTACHED", vbd)
        if rec["mode"] == "RW" and not rec["empty"] and self._vdi_plugged_elsewhere(rec["VDI"], vbd):
            raise XapiError("VDI_IN_USE", rec["VDI"], "plug")
        rec["currently_attached"] = True
        rec["device"] = f"xvd{chr(ord('a') + int(rec['userdevice']))}"
        self._mod("VBD", vbd)
        return ""

    def _m_VBD_unplug(self, vbd: str) -> str:
        rec = self._get("VBD", vbd)
        if not rec["currently_attached"]:
            raise XapiError("DEVICE_ALREADY_DETACHED", vbd)
        self._power(rec["VM"], "Running")
        rec["currently_attached"] = False
        self._mod("VBD", vbd)
        return ""

    def _m_VBD_destroy(self, vbd: str) -> str:
        rec = self._get("VBD", vbd)
        if rec["currently_attached"]:
            raise XapiError("OPERATION_NOT_ALLOWED", "VBD currently attached to an active domain")
        vm = self.objects["VM"].get(rec["VM"])
        if vm is not None:
            vm["VBDs"].remove(vbd)
            self._mod("VM", rec["VM"])
        vdi = self.objects["VDI"].get(rec["VDI"])
        if vdi is not None and vbd in vdi["VBDs"]:
            vdi["VBDs"].remove(vbd)
        self._destroy("VBD", vbd)
        return ""

    def _m_VIF_create(self, rec: dict[str, Any]) -> str:
        for fld in ("device", "network", "VM", "MAC", "MTU", "other_config", "qos_algorithm_type",
                    "qos_algorithm_params"):
            if fld not in rec:
                raise XapiError("FIELD_TYPE_ERROR", fld)
        vm = self._get("VM", rec["VM"])
        net = self._get("network", rec["network"])
        for other in vm["VIFs"]:
            if self.objects["VIF"][other]["device"] == str(rec["device"]):
                raise XapiError("DEVICE_ALREADY_EXISTS", str(rec["device"]))
        data = dict(rec, device=str(rec["device"]), MTU=int(rec["MTU"]), currently_attached=False)
        vif = self._create("VIF", data)
        vm["VIFs"].append(vif)
        net["VIFs"].append(vif)
        self._mod("VM", rec["VM"])
        return vif

    def _m_VIF_plug(self, vif: str) -> str:
        rec = self._get("VIF", vif)
        self._power(rec["VM"], "Running")
        if rec["currently_attached"]:
            raise XapiError("DEVICE_ALREADY_ATTACHED", vif)
        rec["currently_attached"] = True
        self._mod("VIF", vif)
        return ""

    def _m_VIF_unplug(self, vif: str) -> str:
        rec = self._get("VIF", vif)
        if not rec["currently_attached"]:
            raise XapiError("DEVICE_ALREADY_DETACHED", vif)
        rec["currently_attached"] = False
        self._mod("VIF", vif)
        return ""

    def _m_VIF_destroy(self, vif: str) -> str:
        rec = self._get("VIF", vif)
        if rec["currently_attached"]:
            raise XapiError("OPERATION_NOT_ALLOWED", "VIF currently attached to an active domain")
        vm = self.objects["VM"].get(rec["VM"])
        if vm is not None:
            vm["VIFs"].remove(vif)
            self._mod("VM", rec["VM"])
        net = self.objects["network"].get(rec["network"])
        if net is not None and vif in net["VIFs"]:
            net["VIFs"].remove(vif)
        self._destroy("VIF", vif)
        return ""

    # ------------------------------------------------------------------------------------------ networks

    def _m_network_create(self, rec: dict[str, Any]) -> str:
        if "name_label" not in rec:
            raise XapiError("FIELD_TYPE_ERROR", "name_label")
        return self._create("network", {"name_label": rec["name_label"],
                                        "name_description": rec.get("name_description", ""),
                                        "MTU": int(rec.get("MTU", 1500)), "other_config": rec.get("other_config", {}),
                                        "bridge": f"xapi{next(self._bridge_n)}", "PIFs": [], "VIFs": []})

    def _m_network_destroy(self, net: str) -> str:
        rec = self._get("network", net)
        if rec["VIFs"]:
            raise XapiError("NETWORK_CONTAINS_VIF", *rec["VIFs"])
        if rec["PIFs"]:
            raise XapiError("NETWORK_CONTAINS_PIF", *rec["PIFs"])
        self._destroy("network", net)
        return ""

    def _m_pool_create_VLAN(self, device: str, network: str, vlan: Any) -> list[str]:
        net = self._get("network", network)
        tag = int(vlan)
        if not 0 <= tag <= 4094:
            raise XapiError("VLAN_TAG_INVALID", str(tag))
        if net["PIFs"]:
            raise XapiError("NETWORK_ALREADY_CONNECTED", network, net["PIFs"][0])
        out = []
        for host, hrec in self.objects["host"].items():
            tagged = next((p for p in hrec["PIFs"] if self.objects["PIF"][p]["device"] == device
                           and int(self.objects["PIF"][p]["VLAN"]) == -1), None)
            if tagged is None:
                raise XapiError("INVALID_VALUE", "device", device)
            mac = self.objects["PIF"][tagged]["MAC"]
            pif = self._create("PIF", {"host": host, "network": network, "device": device, "VLAN": tag,
                                       "management": False, "physical": False, "MAC": mac,
                                       "currently_attached": True, "VLAN_master_of": NULL, "other_config": {}})
            vl = self._create("VLAN", {"tagged_PIF": tagged, "untagged_PIF": pif, "tag": tag, "other_config": {}})
            self.objects["PIF"][pif]["VLAN_master_of"] = vl
            hrec["PIFs"].append(pif)
            net["PIFs"].append(pif)
            out.append(pif)
        self._mod("network", network)
        return out


def _mac() -> str:
    b = uuidlib.uuid4().bytes
    return "02:" + ":".join(f"{x:02x}" for x in b[:5])


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


__all__ = ["FakeTransport", "FakeXapi", "XapiError", "NULL", "host_of"]
