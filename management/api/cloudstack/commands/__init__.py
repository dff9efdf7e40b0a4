"""Importing this package registers every command module in it with the registry: one subpackage per family
(compute, storage, network, identity, infra, platform), one or more modules per family."""

import importlib
import pkgutil

for _mod in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
    importlib.import_module(_mod.name)
