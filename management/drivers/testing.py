"""Driver factories for the contract suite (``tests/contract/drivers``).

Lives in the package (not in a conftest) so factory modules anywhere can import it by a stable name.
Adding a driver to the suite: drop ``tests/contract/drivers/factories_<name>.py`` that subclasses
:class:`DriverFactory` and calls :func:`register_factory`; the suite's conftest imports every
``factories_*.py`` automatically::

    import pytest
    from management.drivers.testing import DriverFactory, register_factory

    class LibvirtTestFactory(DriverFactory):
        id = "libvirt-test"

        def make(self, tmp_path):
            from management.drivers.libvirt.driver import LibvirtDriver
            return LibvirtDriver("test:///default")

    register_factory(LibvirtTestFactory())
    register_factory(LibvirtQemuFactory(), marks=(pytest.mark.integration,))

Only ``id`` and ``make`` are required. Override ``skip_reason`` to skip cleanly when a prerequisite is
missing, ``inject_spawn_failure`` so the suite can check rollback of a failure striking after disks exist,
and ``pool_spec`` / ``template_source`` / ``make_nic`` when the defaults do not suit the hypervisor.
Nothing here imports pytest, so importing this module is cheap and safe at runtime.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from management.drivers.base import DomainSpec, HypervisorDriver, MiB, NicSpec, PoolSpec


class DriverFactory:
    """How the contract suite gets a driver."""

    id: str = ""
    # Whether test guests acknowledge hot-unplug (a real QEMU guest with no OS never answers the ACPI eject
    # request). True: unplug on a Running domain must succeed; False: the suite does not try; None (unknown):
    # a DriverTimeout from such an unplug skips the test instead of failing it.
    guest_acks_unplug: bool | None = None
    # RAM of the suite's domains; a factory whose guests boot a real OS needs enough for its kernel
    memory_mib: int = 64
    # Whether the migration destination reaches the source's pools (shared storage). False: the "shared" live
    # migration test copies the disks into the same-named pool on the destination instead.
    shared_storage: bool = True

    def boot_template(self, driver: HypervisorDriver, pool: str, tmp_path: Path) -> str | None:
        """A template uuid prepared on ``pool`` that root disks clone, so the suite's guests boot a real OS
        (and acknowledge hot-unplug), or None for blank disks."""
        return None

    def wait_guest(self, driver: HypervisorDriver, spec: DomainSpec) -> None:
        """Return once the guest of a spawned ``spec`` has booted far enough to answer hotplug requests."""

    def make(self, tmp_path: Path) -> HypervisorDriver:
        """A new, not yet connected driver. The suite calls connect(), and teardown() at the end."""
        raise NotImplementedError

    def skip_reason(self) -> str | None:
        """Why this driver cannot run here (missing module or daemon), or None."""
        return None

    def pool_spec(self, tmp_path: Path) -> PoolSpec:
        path = tmp_path / "pool"
        path.mkdir(parents=True, exist_ok=True)
        return PoolSpec(name=f"contract-{uuid.uuid4().hex[:8]}", path=str(path))

    def template_source(self, tmp_path: Path) -> str:
        """A template the driver can prepare_template from (default: a 1 MiB raw image file)."""
        path = tmp_path / "template.img"
        path.write_bytes(b"\0" * MiB)
        return str(path)

    def make_nic(self, mac: str) -> NicSpec:
        return NicSpec(mac=mac, network="default")

    def iso_source(self, tmp_path: Path) -> str:
        """An ISO image the driver can prepare_template from for the CD-ROM tests (default: a small file)."""
        path = tmp_path / "media.iso"
        path.write_bytes(b"\0" * (64 * 1024))
        return str(path)

    def make_destination(self, driver: HypervisorDriver, tmp_path: Path) -> HypervisorDriver | None:
        """A connected driver for a second host that ``driver`` can migrate domains to (storage both reach:
        every pool the suite ensures on ``driver`` is ensured there too), or None when the factory has none.
        A driver declaring LIVE_MIGRATION must have one: the suite fails rather than skips without it."""
        return None

    def release_destination(self, destination: HypervisorDriver) -> None:
        destination.close()

    def inject_spawn_failure(self, driver: HypervisorDriver) -> AbstractContextManager[None] | None:
        """A context manager inside which the next spawn fails *after* creating its disks, or None if the
        driver cannot be made to fail that way (the test is then skipped)."""
        return None

    def teardown(self, driver: HypervisorDriver) -> None:
        driver.close()


# id -> (factory, marks); marks are pytest.MarkDecorator objects, applied by the suite's conftest.
FACTORIES: dict[str, tuple[DriverFactory, tuple[object, ...]]] = {}


def register_factory(factory: DriverFactory, marks: tuple[object, ...] = ()) -> None:
    if not factory.id:
        raise ValueError(f"{factory!r} has no id")
    FACTORIES[factory.id] = (factory, tuple(marks))


class SimulatorFactory(DriverFactory):
    id = "simulator"
    guest_acks_unplug = True

    def make(self, tmp_path: Path) -> HypervisorDriver:
        from management.drivers.simulator import SimulatorDriver

        # A fresh simulated host per test keeps tests independent.
        return SimulatorDriver(f"http://sim/contract/{uuid.uuid4().hex[:12]}")

    def inject_spawn_failure(self, driver: HypervisorDriver) -> AbstractContextManager[None]:
        faults = driver.faults  # type: ignore[attr-defined]

        @contextlib.contextmanager
        def failing() -> Iterator[None]:
            faults.fail("spawn", times=1)
            try:
                yield
            finally:
                faults.clear("spawn")

        return failing()

    def make_destination(self, driver: HypervisorDriver, tmp_path: Path) -> HypervisorDriver:
        from management.drivers.simulator import SimulatorDriver

        dest = SimulatorDriver(f"{driver.url}-peer")
        dest.connect()
        return dest

    def release_destination(self, destination: HypervisorDriver) -> None:
        from management.drivers.simulator import reset_simulator

        destination.close()
        reset_simulator(destination.url)

    def teardown(self, driver: HypervisorDriver) -> None:
        from management.drivers.simulator import reset_simulator

        driver.close()
        reset_simulator(driver.url)


register_factory(SimulatorFactory())
