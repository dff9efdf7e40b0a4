"""copySnapshot between zones as CloudStack answers it: the checks, then the image copied from an image store of
the source zone to one of each destination zone, where extractSnapshot hands it out; deleting the snapshot removes
every copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import build_sim_zone, deploy, reset_simulator, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zones(server: InProcess, tmp_path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    for a in sim_zone(server, tmp_path):
        b = build_sim_zone(server, other_dir, hosts=1)
        try:
            yield a, b
        finally:
            for url in b["urls"]:
                reset_simulator(url)


def _store_file(server: InProcess, zone: dict[str, Any], snap_uuid: str) -> Path:
    from sqlalchemy import select

    from management.models.infra import ImageStore
    from management.models.storage import Snapshot
    from management.storage.secondary import ImageStoreLayout

    with server.server.runtime.db.session(write=False) as s:
        snap = s.scalar(select(Snapshot).where(Snapshot.uuid == snap_uuid))
        store = s.scalar(select(ImageStore).where(ImageStore.zone_id == zone["zone_id"]))
        assert snap is not None and store is not None
        return ImageStoreLayout(store.local_path).abs(ImageStoreLayout.snapshot_rel(snap.account_id, snap.volume_id,
                                                                                    snap.uuid))


def _fails(api: ApiClient, params: dict[str, Any]) -> tuple[int, str]:
    job = api.wait(api("copySnapshot", params)["jobid"])
    assert job["jobstatus"] == 2, job
    return job["jobresult"]["errorcode"], job["jobresult"]["errortext"]


def test_copy_snapshot_between_zones(server: InProcess, api: ApiClient,
                                     zones: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = zones
    vm = deploy(api, a)
    root = api("listVolumes", virtualmachineid=vm["id"])["volume"][0]
    snap = api.run("createSnapshot", volumeid=root["id"])["snapshot"]
    sid = snap["id"]
    assert _fails(api, {"id": sid}) == (431, "Please specify valid destination zone(s).")
    assert _fails(api, {"id": sid, "destzoneids": f"{b['zone']},{a['zone']}"}) == (
        431, "Please specify different source and destination zones.")
    # on the simulator the snapshot stays on primary storage: no image store of the zone holds it
    assert _fails(api, {"id": sid, "destzoneid": b["zone"]}) == (
        431, f"There is no snapshot ID: {sid} ready on image store")
    assert api.error("copySnapshot", id=sid, destzoneid="0e9c4b6a-0000-4000-8000-0000000000cc")[0] == 431

    # the copy archiveSnapshot makes in the source zone (a libvirt host's snapshot file; the simulator has none)
    src = _store_file(server, a, sid)
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(b"QFI\xfb" + bytes(4092))
    dest = _store_file(server, b, sid)
    assert not dest.exists()
    status, _ = api.client_for(api.new_account()).error("copySnapshot", id=sid, destzoneid=b["zone"])
    assert status == 531  # another account's snapshot
    copied = api.run("copySnapshot", id=sid, destzoneid=b["zone"])["snapshot"]
    assert copied["id"] == sid and copied["state"] == "BackedUp"
    assert dest.read_bytes() == src.read_bytes()
    out = api.run("extractSnapshot", id=sid, zoneid=b["zone"])["snapshot"]
    assert out["zoneid"] == b["zone"] and out["url"] == dest.as_uri()
    assert api.run("copySnapshot", id=sid, destzoneids=b["zone"])["snapshot"]["id"] == sid  # already there: fine
    api.run("deleteSnapshot", id=sid)
    assert not src.exists() and not dest.exists()
