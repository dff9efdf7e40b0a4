"""Storage administration commands on a simulator zone: tags, storage access groups, pool scope changes, the
objects in image stores and pools (real files), image store updates, template migration between two directory
stores (real copies), secondary storage selectors, and the Swift/S3 stores this server has no provider for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def _raw(api: ApiClient, command: str, key: str, **kw: Any) -> dict[str, Any]:
    """Commands whose response name is not <command>response (CloudStack's s_name)."""
    r = api.call(command, **kw)
    assert r.status_code == 200, r.text
    return r.json()[key]  # type: ignore[no-any-return]


def _pool(api: ApiClient, z: dict[str, Any]) -> dict[str, Any]:
    return api("listStoragePools", zoneid=z["zone"])["storagepool"][0]  # type: ignore[no-any-return]


def test_storage_and_host_tags(api: ApiClient, zone: dict[str, Any]) -> None:
    assert api("listStorageTags") == {}
    pool = _pool(api, zone)
    api("updateStoragePool", id=pool["id"], tags="ssd,fast")
    tags = api("listStorageTags")["storagetag"]
    assert sorted(t["name"] for t in tags) == ["fast", "ssd"] and {t["poolid"] for t in tags} == {pool["id"]}
    assert api("listStorageTags", keyword="ss")["count"] == 1
    host = zone["hosts"][0]
    api("updateHost", id=host, hosttags="gpu")
    ht = api("listHostTags")["hosttag"]
    assert [(t["name"], t["hostid"], t["isimplicit"]) for t in ht] == [("gpu", host, False)]
    user = api.client_for(api.new_account())
    status, _ = user.error("listStorageTags")
    assert status == 401  # an admin command


def test_storage_access_groups(api: ApiClient, zone: dict[str, Any]) -> None:
    assert api("listStorageAccessGroups") == {}
    pool = _pool(api, zone)
    api.run("configureStorageAccess", storageid=pool["id"], storageaccessgroups="sag1,sag2")
    api.run("configureStorageAccess", hostid=zone["hosts"][0], storageaccessgroups="sag1")
    groups = {g["name"]: g for g in api("listStorageAccessGroups")["storageaccessgroup"]}
    assert set(groups) == {"sag1", "sag2"}
    assert [p["id"] for p in groups["sag1"]["storagepools"]] == [pool["id"]]
    assert [h["id"] for h in groups["sag1"]["hosts"]] == [zone["hosts"][0]]
    assert api("listStorageAccessGroups", name="sag2")["count"] == 1
    job = api.wait(api("configureStorageAccess", storageaccessgroups="x")["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431


def test_pool_scope_change_and_affected_vms(api: ApiClient, zone: dict[str, Any]) -> None:
    pool = _pool(api, zone)
    vm = deploy(api, zone)
    job = api.wait(api("changeStoragePoolScope", id=pool["id"], scope="ZONE")["jobid"])
    assert job["jobstatus"] == 2 and "disabled" in job["jobresult"]["errortext"]
    api("updateStoragePool", id=pool["id"], enabled=False)
    api.run("changeStoragePoolScope", id=pool["id"], scope="ZONE")
    pool = api("listStoragePools", id=pool["id"])["storagepool"][0]
    assert pool["scope"] == "ZONE" and "clusterid" not in pool
    affected = api("listAffectedVmsForStorageScopeChange", clusterid=zone["cluster"], storageid=pool["id"])
    assert affected == {}  # the VM runs in that very cluster
    api.run("changeStoragePoolScope", id=pool["id"], scope="CLUSTER", clusterid=zone["cluster"])
    pool = api("listStoragePools", id=pool["id"])["storagepool"][0]
    assert pool["scope"] == "CLUSTER" and pool["clusterid"] == zone["cluster"]
    assert api("updateStorageCapabilities", id=pool["id"])["storagepool"]["id"] == pool["id"]
    api("updateStoragePool", id=pool["id"], enabled=True)
    synced = api.run("syncStoragePool", id=pool["id"])["storagepool"]
    assert synced["disksizetotal"] > 0
    assert vm["state"] == "Running"


def test_image_store_objects_update_and_migration(server: InProcess, api: ApiClient, zone: dict[str, Any],
                                                  tmp_path: Path) -> None:
    src = tmp_path / "img.raw"
    src.write_bytes(b"devcloud" * 4096)
    tmpl = api("registerTemplate", name="mig", format="RAW", hypervisor="Simulator", url=src.as_uri(),
               zoneid=zone["zone"], displaytext="mig")["template"][0]
    wait_for(lambda: api("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"],
             what="the template download")
    store = api("listImageStores", zoneid=zone["zone"])["imagestore"][0]
    top = {o["name"]: o for o in api("listImageStoreObjects", id=store["id"])["datastoreobject"]}
    assert top["template"]["isdirectory"] is True
    # walk down to the template's file: the object names the template
    path = "template/tmpl"
    while True:
        objs = api("listImageStoreObjects", id=store["id"], path=path)["datastoreobject"]
        mine = [o for o in objs if o["isdirectory"] or o.get("templateid") == tmpl["id"]]
        if len(objs) > 1 and all(o["isdirectory"] for o in objs):
            mine = [o for o in objs if list(Path(store["url"][7:], path, o["name"]).rglob(f"{tmpl['id']}*"))]
        if not mine[0]["isdirectory"]:
            break
        path = f"{path}/{mine[0]['name']}"
    obj = mine[0]
    assert obj["templateid"] == tmpl["id"] and obj["size"] == src.stat().st_size and obj["format"] == "RAW"
    file_path = f"{path}/{obj['name']}"
    dl = api.run("downloadImageStoreObject", id=store["id"], path=file_path)["imagestore"]
    stored = Path(dl["url"][7:])
    assert dl["url"].startswith("file://") and stored.read_bytes() == src.read_bytes()
    status, err = api.error("listImageStoreObjects", id=store["id"], path="../../etc")
    assert status == 431
    # a second directory store in the zone; the template moves there for real
    second = api("addSecondaryStorage", url=f"file://{tmp_path / 'store2'}", zoneid=zone["zone"])["secondarystorage"]
    ro = _raw(api, "updateImageStore", "updateImageStore", id=second["id"], readonly=True)["imagestore"]
    assert ro["readonly"] is True
    job = api.wait(api("migrateSecondaryStorageData", srcpool=store["id"], destpools=second["id"])["jobid"])
    assert job["jobstatus"] == 2 and "read-only" in job["jobresult"]["errortext"]
    _raw(api, "updateImageStore", "updateImageStore", id=second["id"], readonly=False, name="store-two")
    res = api.run("migrateSecondaryStorageData", srcpool=store["id"], destpools=second["id"],
                  migrationtype="Complete")["imagestore"]
    assert res["success"] is True and res["migrationtype"] == "Complete"
    assert (tmp_path / "store2" / file_path).read_bytes() == src.read_bytes()
    assert not stored.exists()
    assert api("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"] is True
    back = api.run("migrateResourceToAnotherSecondaryStorage", srcpool=second["id"], destpool=store["id"],
                   templates=tmpl["id"])["imagestore"]
    assert back["success"] is True and stored.read_bytes() == src.read_bytes()
    assert not (tmp_path / "store2" / file_path).exists()


def test_pool_objects_show_volume_files(api: ApiClient, zone: dict[str, Any], tmp_path: Path) -> None:
    pool = _pool(api, zone)
    Path(pool["path"], "stray.qcow2").write_bytes(b"x" * 10)
    objs = api("listStoragePoolObjects", id=pool["id"])["datastoreobject"]
    assert [(o["name"], o["size"], o["isdirectory"]) for o in objs] == [("stray.qcow2", 10, False)]


def test_secondary_storage_selectors(api: ApiClient, zone: dict[str, Any]) -> None:
    rule = "if (account.name == 'admin') { secondaryStorages[0].id } "
    sel = api("createSecondaryStorageSelector", name="s1", description="d", zoneid=zone["zone"], type="template",
              heuristicrule=rule)["heuristics"]
    assert sel["type"] == "TEMPLATE" and sel["heuristicrule"] == rule
    status, err = api.error("createSecondaryStorageSelector", name="s2", description="d", zoneid=zone["zone"],
                            type="TEMPLATE", heuristicrule=rule)
    assert status == 431 and "already a heuristic rule" in err["errortext"]
    status, _ = api.error("createSecondaryStorageSelector", name="s3", description="d", zoneid=zone["zone"],
                          type="NOPE", heuristicrule=rule)
    assert status == 431
    upd = api("updateSecondaryStorageSelector", id=sel["id"], heuristicrule="1")["heuristics"]
    assert upd["heuristicrule"] == "1"
    assert api("listSecondaryStorageSelectors", zoneid=zone["zone"])["count"] == 1
    assert api("removeSecondaryStorageSelector", id=sel["id"])["success"] is True
    assert api("listSecondaryStorageSelectors", zoneid=zone["zone"]) == {}
    assert api("listSecondaryStorageSelectors", zoneid=zone["zone"], showremoved=True)["heuristics"][0]["removed"]


def test_swift_and_s3_stores_have_no_provider_here(api: ApiClient) -> None:
    assert api("listSwifts") == {}
    status, err = api.error("addSwift", url="http://swift.example/auth/v1.0", account="a", username="u", key="k")
    assert status == 431 and "Swift" in err["errortext"]
    r = api.call("addImageStoreS3", accesskey="a", secretkey="s", endpoint="http://127.0.0.1:1", bucket="b")
    assert r.status_code == 431 and "S3" in r.json()["addImageStoreS3Response"]["errortext"]
