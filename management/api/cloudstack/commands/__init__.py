"""The command modules: one subpackage per family (compute, storage, network, identity, infra, platform, ...), one
or more modules per family. Importing this package imports none of them: `index.MODULES` says which module
registers each command, and the registry imports it when the command is first looked up. `load_all` imports the
rest (the registry calls it for a write, a job, listApis, and when a name is not in the index)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import threading

from management.api.cloudstack import registry
from management.api.cloudstack.commands.index import MODULES
from management.services import access

# One lock for every import made here: two threads importing command modules that import each other could
# otherwise each hold one module's import lock and wait for the other's.
_lock = threading.RLock()
_all_loaded = threading.Event()


def module_names() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(__path__, prefix=f"{__name__}.") if not m.name.endswith("__main__")]


def load_all() -> None:
    if _all_loaded.is_set():
        return
    with _lock:
        if not _all_loaded.is_set():
            for name in module_names():
                importlib.import_module(name)
            _all_loaded.set()


def load_command(lname: str) -> None:
    """Imports the module that registers the command `lname` (lower-cased), when the index names one."""
    module = MODULES.get(lname)
    if module is None or _all_loaded.is_set():
        return
    with _lock:
        importlib.import_module(f"{__name__}.{module}")


def is_fully_loaded() -> bool:
    return _all_loaded.is_set()


def render_index(current: str) -> str:
    """index.py's text for the commands registered by the modules here (all imported)."""
    entries = sorted((spec.name.lower(), spec.module.removeprefix(f"{__name__}."))
                     for spec in registry.commands().values())
    head, _, rest = current.partition("MODULES: dict[str, str] = {\n")
    _, _, tail = rest.partition("}\n")
    body = "".join(f"    {json.dumps(name)}: {json.dumps(module)},\n" for name, module in entries)
    return f"{head}MODULES: dict[str, str] = {{\n{body}}}\n{tail}"


registry.install_loader(load_command, load_all)
access.install_loader(load_all)
