"""The suite's tiers, its skip policy and the per-tier time table (a pytest plugin loaded by tests/conftest.py).

- A tier is a directory under tests/ (``TIERS``). ``--tiers unit,api`` (``make test TIERS=unit,api``) runs only
  those; the others are deselected, not skipped.
- A skip is a failure unless it is a capability gate: a test that cannot apply to what it tests (a driver that
  declares a capability False, a kernel that has NFS where the test needs one without). Gates skip through
  :func:`capability_gate` (or a ``skipif`` whose reason starts with ``GATE``). A missing tool, daemon or
  privilege is never a gate: ``make test`` provisions them (scripts/provision-test.sh), so a skip for one fails
  the test with the reason it gave.
- At the end, a table: per tier the tests run, passed/failed/skipped and the seconds spent in them.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
# tier -> what it needs (the README's table has the measured times)
TIERS = {
    "unit": "nothing beyond the venv (genisoimage, e2fsprogs for the image/config-drive builders)",
    "contract": "libvirtd (qemu:///system, root) for the libvirt driver factories",
    "api": "MariaDB for the mariadb backend variants",
    "clients": "cs, libcloud, boto3, the awscli/s3cmd venv, Ansible + python3-cs, pyenv's Python 2.7 (cloudmonkey)",
    "integration": "root, libvirtd + QEMU, dnsmasq/nftables/haproxy, MariaDB, mmdebstrap (nested Xen)",
    "appliance": "ansible-core/ansible-lint venv, yamllint, packer, vagrant; the appliance image and the three-node "
                 "farm rehearsal (built when their inputs change, else from the project cache) booted under QEMU",
    "infra": "a machine the Ansible roles provisioned (the suite applies common + kvm_host here)",
    "ui": "Debian's chromium, playwright-core (ui/node_modules)",
    "e2e": "root, libvirtd, the tiny image tools; chromium for the console test",
    "docs": "a served instance for the README's Python blocks; the CLIs its shell blocks call",
}
GATE = "capability gate: "
# xdist groups that start before all others. pytest-xdist orders groups by their number of tests, which put the
# appliance image and the farm rehearsal (two tests, ~10 min of TCG VMs) last, beside the driver contract group's
# last tests: guests nested in a TCG host, whose boot then missed its deadline (twice in CI). Started first, they
# overlap that group's early tests instead: no timeout since, but pytest took ~50 min in CI rather than 41-44.
FIRST_GROUPS = ("appliance-image",)


def capability_gate(reason: str) -> None:
    """Skip: this test does not apply to what it tests (never for a missing tool or daemon)."""
    __tracebackhide__ = True  # the skip list names the test's line, not this one
    pytest.skip(GATE + reason)


def tier_of(path: str | Path) -> str:
    try:
        rel = Path(path).resolve().relative_to(TESTS)
    except ValueError:
        return "other"
    return rel.parts[0] if len(rel.parts) > 1 else "other"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tiers", default="", help=f"comma-separated tiers to run ({', '.join(TIERS)}); default all")


def _requested(config: pytest.Config) -> set[str]:
    raw = str(config.getoption("--tiers") or "")
    want = {t.strip() for t in raw.split(",") if t.strip()}
    unknown = want - set(TIERS)
    if unknown:
        raise pytest.UsageError(f"--tiers: unknown tier(s) {sorted(unknown)}; tiers: {', '.join(TIERS)}")
    return want


# tier -> tests/passed/failed/skipped/errors/seconds, filled from the reports (on the xdist controller too)
_STATS: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
_T0 = time.monotonic()


def pytest_configure(config: pytest.Config) -> None:
    _requested(config)
    if hasattr(config.option, "loadscopereorder"):  # pytest_collection_modifyitems orders the groups instead
        config.option.loadscopereorder = False
    # pytest keeps the newest three `pytest-N` directories under its temp root and removes older ones when a
    # session starts: another run on this machine (a teammate's, CI's) would delete this run's sandboxes and
    # state directories mid-test. This checkout gets a root of its own (short: unix socket paths live there).
    root = Path("/tmp") / f"devcloud-tests-{hashlib.sha1(str(TESTS).encode()).hexdigest()[:8]}"
    root.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(root))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _group_by_module(items)
    _order_groups(items)
    want = _requested(config)
    if not want:
        return
    keep, drop = [], []
    for item in items:
        (keep if tier_of(item.path) in want else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """On the xdist controller: workers report node ids tagged `@<group>` when `--dist loadgroup` works. Untagged
    ids (a pytest that pytest-xdist cannot tag) would silently split modules, and their module-scoped clouds, over
    several workers; stop instead."""
    if ids and node.config.getvalue("dist") == "loadgroup" and not any("@" in i for i in ids):
        pytest.exit(f"pytest-xdist did not tag node ids with their xdist_group (pytest {pytest.__version__}): "
                    "--dist loadgroup would split modules across workers; install pyproject.toml's pytest pin",
                    returncode=3)


def _group_by_module(items: list[pytest.Item]) -> None:
    """Parallel runs (`pytest -n N --dist loadgroup`, as `make test` does): a module's tests stay on one worker, in
    order, so module-scoped clouds, sandboxes and images are built once; modules that share something more (the KVM
    cloud of test_kvm_api.py and test_ec2_guest.py, the roles applied to this machine and tests/infra) carry one
    `xdist_group` mark."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(str(item.path.relative_to(TESTS.parent))))


def _group(item: pytest.Item) -> str:
    mark = item.get_closest_marker("xdist_group")  # every item has one: _group_by_module runs first
    return str(mark.args[0]) if mark is not None and mark.args else ""


def _order_groups(items: list[pytest.Item]) -> None:
    """The order in which `--dist loadgroup` hands out groups: FIRST_GROUPS, then the others by their number of
    tests, most first (what pytest-xdist's own reordering does; it is switched off so that this order holds). A
    group's tests keep their order."""
    sizes: dict[str, int] = defaultdict(int)
    for item in items:
        sizes[_group(item)] += 1

    def rank(item: pytest.Item) -> tuple[int, int]:
        g = _group(item)
        return (FIRST_GROUPS.index(g) if g in FIRST_GROUPS else len(FIRST_GROUPS), -sizes[g])
    items.sort(key=rank)  # stable: equal groups keep collection order


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or hasattr(rep, "wasxfail"):
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith(GATE):
        return
    rep.outcome = "failed"
    rep.longrepr = (f"skipped for a reason that is not a capability gate, which fails the test: {reason}\n"
                    "(a missing tool, daemon or privilege is a failure: `make test` provisions what the suite needs "
                    "through scripts/provision-test.sh; `make test TIERS=...` runs a subset)")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    stats = _STATS[tier_of(report.fspath)]
    stats["seconds"] += report.duration
    if report.when == "call" or (report.when == "setup" and not report.passed):
        stats["tests"] += 1
        stats[report.outcome] += 1
    elif report.when == "teardown" and report.failed:
        stats["errors"] += 1


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    stats = _STATS
    if not stats:
        return
    tr = terminalreporter
    tr.section("time per tier")
    tr.write_line(f"{'tier':<12} {'tests':>6} {'passed':>7} {'failed':>7} {'skipped':>8} {'seconds':>9}")
    total: dict[str, float] = defaultdict(float)
    order = [t for t in TIERS if t in stats] + sorted(t for t in stats if t not in TIERS)
    for tier in order:
        s = stats[tier]
        for k in ("tests", "passed", "failed", "skipped", "seconds"):
            total[k] += s[k]
        tr.write_line(f"{tier:<12} {int(s['tests']):>6} {int(s['passed']):>7} {int(s['failed']):>7} "
                      f"{int(s['skipped']):>8} {s['seconds']:>9.1f}")
    tr.write_line(f"{'all':<12} {int(total['tests']):>6} {int(total['passed']):>7} {int(total['failed']):>7} "
                  f"{int(total['skipped']):>8} {total['seconds']:>9.1f}")
    wall = time.monotonic() - _T0
    tr.write_line(f"wall clock {wall:.1f} s (seconds per tier add up the tests' own setup/call/teardown times; "
                  "with parallel workers they exceed the wall clock)")
