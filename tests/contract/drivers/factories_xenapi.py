"""XenAPI driver factory for the contract suite: the driver against the in-process fake XAPI pool
(``management.drivers.xenapi.fake``), always run. No real XAPI runs here."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from management.drivers.base import HypervisorDriver, NicSpec, PoolSpec
from management.drivers.testing import DriverFactory, register_factory


class XenAPIFakeFactory(DriverFactory):
    id = "xenapi-fake"
    guest_acks_unplug = True  # XAPI hot-unplug with PV drivers in the guest; the fake acknowledges

    def make(self, tmp_path: Path) -> HypervisorDriver:
        from management.drivers.xenapi.driver import XenAPIDriver
        from management.drivers.xenapi.fake import FakeXapi

        self.fake = FakeXapi(hosts=(("xcp-ng-1", "192.0.2.11"), ("xcp-ng-2", "192.0.2.12")), host_memory=8 * 1024**3)
        drv = XenAPIDriver(self.fake.url(), username="root", password="password",
                           session_factory=self.fake.session_factory, event_timeout=0.5, shutdown_timeout=10)
        drv.fake = self.fake  # type: ignore[attr-defined]
        return drv

    def pool_spec(self, tmp_path: Path) -> PoolSpec:
        # NFS primary storage, as CloudStack puts in front of a XenServer cluster
        export = f"192.0.2.50:/export/primary/{uuid.uuid4().hex[:6]}"
        return PoolSpec(name=f"contract-{uuid.uuid4().hex[:8]}", path=export, kind="nfs")

    def make_nic(self, mac: str) -> NicSpec:
        return NicSpec(mac=mac, bridge="devcloud-guest", vlan=100)

    def make_destination(self, driver: HypervisorDriver, tmp_path: Path) -> HypervisorDriver:
        """The pool's second member: live migration inside the pool, over the pool's shared (NFS) SRs."""
        from management.drivers.xenapi.driver import XenAPIDriver

        fake = driver.fake  # type: ignore[attr-defined]
        dest = XenAPIDriver(fake.url("192.0.2.12"), username="root", password="password",
                            session_factory=fake.session_factory, event_timeout=0.5, shutdown_timeout=10)
        dest.connect()
        return dest

    def inject_spawn_failure(self, driver: HypervisorDriver) -> AbstractContextManager[None]:
        """The pool refuses the VM start after the disks, VM, VBDs and VIFs exist."""
        fake = driver.fake  # type: ignore[attr-defined]

        @contextlib.contextmanager
        def failing() -> Iterator[None]:
            fake.fail("VM.start_on", ("INTERNAL_ERROR", "injected start failure"), times=1)
            try:
                yield
            finally:
                fake.clear_faults()

        return failing()


register_factory(XenAPIFakeFactory())
