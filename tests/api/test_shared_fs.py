"""Shared file systems without a provider: CloudStack's answers when its SHAREDFSVM provider is absent (no
storage-FS VM image with an NFS server exists here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, network_type="Advanced")


def test_no_provider_no_filesystems(api: ApiClient, zone: dict[str, Any]) -> None:
    assert api("listSharedFileSystemProviders") == {}
    assert api("listSharedFileSystems", listall=True) == {}
    deploy(api, zone)  # the account's default isolated network comes with its first VM
    net = api("listNetworks", listall=True)["network"][0]["id"]
    params = {"name": "fs1", "zoneid": zone["zone"], "diskofferingid": zone["disk"],
              "serviceofferingid": zone["small"], "filesystem": "XFS", "networkid": net}
    status, err = api.error("createSharedFileSystem", **params)
    assert status == 530 and err["errortext"] == "Invalid Shared FileSystem provider name!"
    status, err = api.error("createSharedFileSystem", **{**params, "size": 5})
    assert status == 431 and err["errortext"] == "Size provided with a non-custom disk offering"
    fake = str(uuid.uuid4())
    for cmd in ("updateSharedFileSystem", "recoverSharedFileSystem"):
        status, err = api.error(cmd, id=fake)
        assert status == 431 and fake in err["errortext"]
    for cmd in ("startSharedFileSystem", "stopSharedFileSystem", "destroySharedFileSystem"):
        job = api.wait(api(cmd, id=fake)["jobid"])
        assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431
