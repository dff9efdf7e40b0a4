"""Import layering of the management server, read from the source with `ast`: a module is checked as soon as it
exists, whether or not anything imports it.

Rules: the server never imports the appliance; drivers know nothing of the database, models, services or API; and
the families under `management/services/` and under `management/api/cloudstack/commands/` never import each other
in a circle. For families every import counts, at module level or inside a function (a late import only hides a
circle from Python, not from the design). Higher modules plug into lower ones by registration instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = "management.services"
COMMANDS = "management.api.cloudstack.commands"


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Every module name the statement may load: `from a import b` names both `a` and `a.b` (b may be a module)."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names)
        return
    base = node.module or ""
    if node.level:
        package = _module_of(path).split(".")
        if path.name != "__init__.py":
            package.pop()
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    yield base
    yield from (f"{base}.{a.name}" for a in node.names if a.name != "*")


@cache
def imports() -> dict[str, list[tuple[str, int]]]:
    """module -> [(imported module, line)] for every module of the server, imports at any depth included."""
    found: dict[str, list[tuple[str, int]]] = {}
    for path in sorted((ROOT / "management").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        found[_module_of(path)] = [(name, node.lineno) for node in ast.walk(tree)
                                   if isinstance(node, (ast.Import, ast.ImportFrom))
                                   for name in _imported(path, node)]
    return found


def _offenders(importer_prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{mod}:{line} imports {name}" for mod, names in imports().items()
            if mod == importer_prefix or mod.startswith(importer_prefix + ".")
            for name, line in names if name.startswith(forbidden)]


def test_server_never_imports_appliance() -> None:
    assert not _offenders("management", ("appliance",))


def test_drivers_never_import_database_services_or_api() -> None:
    forbidden = ("management.db", "management.models", "management.services", "management.api")
    assert not _offenders("management.drivers", forbidden)


def _families(base: str) -> set[str]:
    root = ROOT.joinpath(*base.split("."))
    return {p.parent.name for p in root.glob("*/__init__.py")}


def _node(base: str, families: set[str], module: str) -> str | None:
    """A family (`compute`), a top-level module of the package (`.access`), or None outside the package."""
    if not module.startswith(base + "."):
        return None
    head = module[len(base) + 1:].split(".")[0]
    return head if head in families else f".{head}"


def _graph(base: str) -> dict[str, dict[str, str]]:
    """node -> {imported node: one example import} between the families and top-level modules of `base`."""
    families = _families(base)
    graph: dict[str, dict[str, str]] = {}
    for mod, names in imports().items():
        src = _node(base, families, mod)
        if src is None:
            continue
        for name, line in names:
            dst = _node(base, families, name)
            if dst is not None and dst != src:
                graph.setdefault(src, {}).setdefault(dst, f"{mod}:{line} imports {name}")
    return graph


def _cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("base", [SERVICES, COMMANDS])
def test_no_import_cycle_between_families(base: str) -> None:
    assert len(_families(base)) >= 5  # the layout this test is about is in place
    graph = _graph(base)
    circles = [f"{src} -> {dst}: {why}" for component in _cycles(graph) for src in component
               for dst, why in graph[src].items() if dst in component]
    assert not circles, "import circle between families:\n" + "\n".join(circles)


def test_the_cycle_check_sees_a_circle() -> None:
    graph = {"compute": {"storage": "a"}, "storage": {".hypervisors": "b"}, ".hypervisors": {"compute": "c"},
             "network": {"compute": "d"}}
    assert _cycles(graph) == [[".hypervisors", "compute", "storage"]]
    assert _node(SERVICES, {"compute"}, "management.services.compute.vm") == "compute"
    assert _node(SERVICES, {"compute"}, "management.services.access") == ".access"
    assert _node(SERVICES, {"compute"}, "management.models.compute") is None
