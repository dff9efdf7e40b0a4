"""Fixtures for the hypervisor driver contract suite.

Every test using the ``driver`` (or ``h``) fixture runs once per factory registered in
:mod:`management.drivers.testing` — the simulator always, plus whatever ``factories_*.py`` modules in this
directory register (see that module's docstring for how to add a driver).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.drivers.base import DiskSpec, DomainInfo, DomainSpec, HypervisorDriver, MiB, PoolSpec
from management.drivers.testing import FACTORIES, DriverFactory


def _load_extra_factories() -> None:
    for path in sorted(Path(__file__).parent.glob("factories_*.py")):
        name = f"_driver_factories_{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_load_extra_factories()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "factory" in metafunc.fixturenames:
        metafunc.parametrize(
            "factory",
            [pytest.param(f, id=fid, marks=marks) for fid, (f, marks) in FACTORIES.items()],
        )


# ------------------------------------------------------------------------------------------------- fixtures


class Harness:
    """Per-test helpers; remembers what the test created and removes it afterwards."""

    def __init__(self, factory: DriverFactory, driver: HypervisorDriver, tmp_path: Path) -> None:
        self.factory = factory
        self.driver = driver
        self.tmp_path = tmp_path
        self._pool: str | None = None
        self.domains: list[str] = []
        self.volumes: list[tuple[str, str]] = []
        self._n = 0
        self._dest: HypervisorDriver | None = None
        self._boot: str | None | bool = False  # False: not asked yet
        self._pool_specs: list[PoolSpec] = []

    def ensure_pool(self, spec: PoolSpec) -> str:
        """A pool on this host (and on the migration destination, once there is one)."""
        self._pool_specs.append(spec)
        name = self.driver.ensure_pool(spec).name
        if self._dest is not None:
            self._dest.ensure_pool(spec)
        return name

    def second_pool(self) -> str:
        """Another pool of this host (storage migration)."""
        spec = self.factory.pool_spec(self.tmp_path / f"second-{uuid.uuid4().hex[:6]}")
        return self.ensure_pool(spec)

    @property
    def destination(self) -> HypervisorDriver:
        """The second host of the factory; a driver declaring LIVE_MIGRATION must provide one."""
        if self._dest is None:
            dest = self.factory.make_destination(self.driver, self.tmp_path)
            assert dest is not None, f"{self.factory.id} declares live_migration but provides no second host"
            self._dest = dest
            for spec in self._pool_specs:
                dest.ensure_pool(spec)
        return self._dest

    @property
    def pool(self) -> str:
        if self._pool is None:
            self._pool = self.ensure_pool(self.factory.pool_spec(self.tmp_path))
        return self._pool

    def new_uuid(self) -> str:
        return str(uuid.uuid4())

    def mac(self) -> str:
        self._n += 1
        return f"02:00:00:{uuid.uuid4().hex[:2]}:{uuid.uuid4().hex[:2]}:{self._n:02x}"

    @property
    def boot_template(self) -> str | None:
        if self._boot is False:
            self._boot = self.factory.boot_template(self.driver, self.pool, self.tmp_path)
            if self._boot is not None:
                self.volumes.append((self.pool, self._boot))
        return self._boot or None

    def disk(self, *, size_mib: int = 64, device_id: int = 0, pool: str | None = None, **kw: Any) -> DiskSpec:
        vol = kw.pop("volume_uuid", None) or self.new_uuid()
        if device_id == 0 and pool is None and "template" not in kw and self.boot_template is not None:
            kw["template"] = self.boot_template  # the factory's guests boot a real OS
        pool = pool or self.pool
        self.volumes.append((pool, vol))
        return DiskSpec(volume_uuid=vol, pool=pool, size_bytes=size_mib * MiB, device_id=device_id, **kw)

    def spec(self, *, disks: tuple[DiskSpec, ...] | None = None, **kw: Any) -> DomainSpec:
        self._n += 1
        vm = kw.pop("uuid", None) or self.new_uuid()
        self.domains.append(vm)
        fields: dict[str, Any] = {
            "uuid": vm,
            "name": f"i-2-{uuid.UUID(vm).int % 10**7}-VM",  # unique: persistent hosts may hold leftovers
            "vcpus": 1,
            "memory_mib": self.factory.memory_mib,
            "disks": (self.disk(),) if disks is None else disks,
            "nics": (self.factory.make_nic(self.mac()),),
        }
        fields.update(kw)
        return DomainSpec(**fields)

    def spawn(self, **kw: Any) -> DomainInfo:
        return self.driver.spawn(self.spec(**kw))

    def volume(self, size_mib: int = 16) -> str:
        vol = self.new_uuid()
        self.volumes.append((self.pool, vol))
        self.driver.create_volume(self.pool, vol, size_mib * MiB)
        return vol

    def cleanup(self) -> None:
        drivers = [self.driver] + ([self._dest] if self._dest is not None else [])
        for drv in drivers:
            for vm in reversed(self.domains):
                with contextlib.suppress(Exception):
                    drv.destroy(vm)
            for pool, vol in reversed(self.volumes):
                with contextlib.suppress(Exception):
                    drv.delete_volume(pool, vol)
        if self._dest is not None:
            with contextlib.suppress(Exception):
                self.factory.release_destination(self._dest)


@pytest.fixture
def driver(factory: DriverFactory, tmp_path: Path) -> Iterator[HypervisorDriver]:
    reason = factory.skip_reason()
    if reason:
        pytest.skip(f"{factory.id}: {reason}")
    drv = factory.make(tmp_path)
    drv.connect()
    try:
        yield drv
    finally:
        factory.teardown(drv)


@pytest.fixture
def h(factory: DriverFactory, driver: HypervisorDriver, tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(factory, driver, tmp_path)
    try:
        yield harness
    finally:
        harness.cleanup()
