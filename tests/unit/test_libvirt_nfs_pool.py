"""NFS primary storage on libvirt hosts: the management server's pool row becomes a libvirt netfs pool (source host
and export from the nfs:// URL, mounted at /mnt/<pool uuid>). libvirt's test driver checks the wiring; the real
mount is tests/integration (refused here) and tests/infra (the appliance)."""

import xml.etree.ElementTree as ET

import libvirt  # noqa: E402, F401 - the XML helpers import it
import pytest

from management.drivers.base import PoolSpec  # noqa: E402
from management.drivers.libvirt.driver import NFS_MOUNT_ROOT, LibvirtDriver  # noqa: E402
from management.models.infra import StoragePool  # noqa: E402
from management.services.infra.hosts import pool_spec  # noqa: E402
from management.services.infra.infra import parse_pool_url  # noqa: E402


@pytest.mark.parametrize("url", ["nfs://198.18.0.5/export/primary", "nfs://198.18.0.5:/export/primary"])
def test_nfs_pool_row_becomes_a_netfs_pool(url: str) -> None:
    pool_type, host, path = parse_pool_url(url)
    row = StoragePool(uuid="5b0c6f7e-0000-4000-8000-00000000abcd", pool_type=pool_type, host_address=host,
                      path=path, url=url)
    spec = pool_spec(row)
    assert (spec.kind, spec.host, spec.path) == ("nfs", "198.18.0.5", "/export/primary")

    drv = LibvirtDriver("test:///default", events=False)
    info = drv.ensure_pool(spec)
    assert info.path == f"{NFS_MOUNT_ROOT}/{row.uuid}"
    el = ET.fromstring(drv._pool(row.uuid).XMLDesc(0))
    assert el.get("type") == "netfs"
    assert el.find("source/host").get("name") == "198.18.0.5"
    assert el.find("source/dir").get("path") == "/export/primary"
    assert el.find("source/format").get("type") == "nfs"
    # a second host (or a reconnect) finds the pool instead of defining another
    assert drv.ensure_pool(spec).path == info.path
    drv.ex_delete_pool(row.uuid)


def test_directory_pool_and_premounted_nfs_stay_dir_pools() -> None:
    drv = LibvirtDriver("test:///default", events=False)
    row = StoragePool(uuid="5b0c6f7e-0000-4000-8000-00000000abce", pool_type="Filesystem", path="/srv/primary",
                      url="file:///srv/primary")
    assert pool_spec(row) == PoolSpec(name=row.uuid, path="/srv/primary")
    for spec in (pool_spec(row), PoolSpec(name="premounted", path="/mnt/shared", kind="nfs")):
        info = drv.ensure_pool(spec)
        assert info.path == spec.path
        assert ET.fromstring(drv._pool(spec.name).XMLDesc(0)).get("type") == "dir"
        drv.ex_delete_pool(spec.name)
