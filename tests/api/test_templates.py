"""Templates and ISOs end to end: registration from a loopback HTTP server and file:// URLs, background download
into the zone's image store with progress, checksum failures, filters and per-zone rows, copy, delete, and
createTemplate from a simulator volume."""

from __future__ import annotations

import hashlib
import http.server
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.api

QCOW2_VSIZE = 64 * 1024**2


def qcow2_bytes(virtual_size: int = QCOW2_VSIZE, pad: int = 3 * 1024 * 1024) -> bytes:
    """A minimal qcow2 v2 header (enough for qemu-img info and for header parsing), padded."""
    header = b"QFI\xfb" + struct.pack(">I", 2) + struct.pack(">QI", 0, 0) + struct.pack(">I", 16)
    header += struct.pack(">Q", virtual_size) + struct.pack(">I", 0) + struct.pack(">I", 1)
    header += struct.pack(">Q", 0x30000) + struct.pack(">Q", 0x10000) + struct.pack(">I", 1)
    header += struct.pack(">I", 0) + struct.pack(">Q", 0)
    data = bytearray(header.ljust(0x40000, b"\0"))
    # refcount table at 0x10000 -> block 0x20000; l1 at 0x30000 (empty)
    data[0x10000:0x10008] = struct.pack(">Q", 0x20000)
    for i in range(4):
        data[0x20000 + 2 * i:0x20000 + 2 * i + 2] = struct.pack(">H", 1)
    return bytes(data) + b"\0" * pad


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    slow: float = 0.0

    def do_GET(self) -> None:  # noqa: N802
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        step = 256 * 1024
        for i in range(0, len(data), step):
            self.wfile.write(data[i:i + step])
            if self.slow:
                time.sleep(self.slow)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_files() -> Iterator[tuple[str, dict[str, bytes], type[_Handler]]]:
    """A loopback HTTP server (127.0.0.1 only) serving the dict's bytes by path."""
    handler = type("H", (_Handler,), {"files": {}, "slow": 0.0})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", handler.files, handler
    finally:
        srv.shutdown()
        srv.server_close()


def make_zone(server: Any, tmp_path: Path, name: str = "Sandbox-simulator", simulator: bool = True) -> dict[str, Any]:
    """Zone + pod + (simulator) cluster + image store as rows (the inventory commands are another room's)."""
    from management.models.infra import Cluster, ImageStore, Pod, Zone
    from management.services.storage import templates

    store_dir = tmp_path / f"secondary-{name}"
    with server.server.runtime.db.session() as s:
        z = Zone(name=name, network_type="Advanced", allocation_state="Enabled", guest_cidr="10.1.1.0/24",
                 dns1="8.8.8.8", internal_dns1="8.8.8.8")
        s.add(z)
        s.flush()
        pod = Pod(name=f"POD-{name}", zone_id=z.id)
        s.add(pod)
        s.flush()
        if simulator:
            s.add(Cluster(name=f"C-{name}", zone_id=z.id, pod_id=pod.id, hypervisor_type="Simulator"))
        store = ImageStore(name=f"store-{name}", zone_id=z.id, url=store_dir.as_uri(), protocol="file",
                           provider="NFS", local_path=str(store_dir))
        s.add(store)
        s.flush()
        templates.on_image_store_added(s, store)
        return {"id": z.uuid, "name": name, "dbid": z.id, "store": store_dir}


def wait_status(api: Any, tid: str, zoneid: str, until: Any, timeout: float = 30.0) -> dict[str, Any]:
    seen: list[str] = []

    def check() -> dict[str, Any] | None:
        rows = api("listTemplates", templatefilter="self", id=tid, zoneid=zoneid).get("template", [])
        if rows:
            seen.append(rows[0].get("status", ""))
            if until(rows[0]):
                return rows[0]
        return None

    row = wait_for(check, timeout=timeout, what=f"template {tid} status (seen {seen[-3:]})")
    row["_seen"] = seen
    return row  # type: ignore[no-any-return]


def test_builtin_simulator_template_ready_in_simulator_zones(server: Any, tmp_path: Path) -> None:
    api = server.api
    z = make_zone(server, tmp_path)
    rows = api("listTemplates", templatefilter="featured")["template"]
    builtin = [r for r in rows if r["name"] == "CentOS 5.6 (64-bit) no GUI (Simulator)"]
    assert len(builtin) == 1
    b = builtin[0]
    assert b["isready"] is True and b["status"] == "Download Complete"
    assert b["templatetype"] == "BUILTIN" and b["hypervisor"] == "Simulator"
    assert b["ispublic"] and b["isfeatured"] and b["zoneid"] == z["id"] and b["crossZones"] is True
    # a second zone without a simulator cluster does not get it; one with a store added later does (lazily)
    make_zone(server, tmp_path, "kvm-zone", simulator=False)
    rows = api("listTemplates", templatefilter="executable", name=b["name"])["template"]
    assert [r["zonename"] for r in rows] == ["Sandbox-simulator"]
    # source_for_pool hands the driver a real file in the zone's store
    from management.models.infra import Zone
    from management.models.storage import Template
    from management.services.storage import templates

    with server.server.runtime.db.session() as s:
        t = s.query(Template).filter_by(uuid=b["id"]).one()
        uuid, path = templates.source_for_pool(s, t, s.query(Zone).filter_by(uuid=z["id"]).one())
    assert uuid == b["id"] and Path(path).is_file() and str(z["store"]) in path


@pytest.mark.parametrize("store_first", [False, True], ids=["cluster-then-store", "store-then-cluster"])
def test_builtin_template_placed_when_the_zone_is_built(server: Any, tmp_path: Path, store_first: bool) -> None:
    """The seeded template is in secondary storage as soon as addImageStore/addCluster return, whichever comes
    first: a client's first listTemplates must not be the one to write it (on SQLite that write can lose)."""
    api = server.api
    store = tmp_path / "sec"
    zone = api("createZone", name="z", networktype="Advanced", dns1="10.0.0.1", internaldns1="10.0.0.1",
               guestcidraddress="10.1.1.0/24")["zone"]
    pod = api("createPod", zoneid=zone["id"], name="p", gateway="10.0.0.1", netmask="255.255.255.0",
              startip="10.0.0.10", endip="10.0.0.20")["pod"]
    steps = [lambda: api("addCluster", zoneid=zone["id"], podid=pod["id"], clustername="c",
                         hypervisor="Simulator", clustertype="CloudManaged"),
             lambda: api("addImageStore", zoneid=zone["id"], name="sec", provider="NFS", url=store.as_uri())]
    for step in (steps[::-1] if store_first else steps):
        step()
    files = [f for f in (store / "template").rglob("*") if f.is_file() and f.name != "template.properties"]
    assert len(files) == 1, sorted(store.rglob("*"))
    assert files[0].read_bytes().startswith(b"devcloud simulator template")


def test_register_from_loopback_http_progress_and_files(server: Any, tmp_path: Path, http_files: Any) -> None:
    api = server.api
    z = make_zone(server, tmp_path)
    base, files, handler = http_files
    data = qcow2_bytes(pad=6 * 1024 * 1024)
    files["/t.qcow2"] = data
    handler.slow = 0.05
    resp = api("registerTemplate", name="tiny", displaytext="tiny image", format="QCOW2", hypervisor="Simulator",
               url=f"{base}/t.qcow2", zoneid=z["id"], checksum="{SHA-256}" + hashlib.sha256(data).hexdigest())
    assert resp["count"] == 1
    row = resp["template"][0]
    assert row["isready"] is False and row["zoneid"] == z["id"] and row["format"] == "QCOW2"
    done = wait_status(api, row["id"], z["id"], lambda r: r["isready"])
    assert done["status"] == "Download Complete"
    assert any(s.endswith("% Downloaded") for s in done["_seen"]), done["_seen"]
    assert done["size"] == QCOW2_VSIZE
    stored = list((z["store"] / "template" / "tmpl").rglob(f"{row['id']}.qcow2"))
    assert len(stored) == 1 and stored[0].read_bytes() == data
    assert not list(z["store"].rglob(".tmp-*"))

    # delete (async) removes the file and the template
    api.run("deleteTemplate", id=row["id"])
    assert not stored[0].exists()
    assert api("listTemplates", templatefilter="self", id=None, name="tiny") == {}


def test_register_file_url_plain_md5_and_checksum_mismatch(server: Any, tmp_path: Path) -> None:
    api = server.api
    z = make_zone(server, tmp_path)
    src = tmp_path / "img.raw"
    src.write_bytes(b"x" * 100_000)
    ok = api("registerTemplate", name="rawfile", format="RAW", hypervisor="KVM", url=src.as_uri(),
             zoneid=z["id"], checksum=hashlib.md5(src.read_bytes()).hexdigest())["template"][0]
    bad = api("registerTemplate", name="badsum", format="RAW", hypervisor="KVM", url=src.as_uri(),
              zoneid=z["id"], checksum="{MD5}" + "0" * 32)["template"][0]
    good = wait_status(api, ok["id"], z["id"], lambda r: r["isready"])
    assert good["size"] == 100_000 and good["hypervisor"] == "KVM"
    failed = wait_status(api, bad["id"], z["id"], lambda r: "checksum" in r.get("status", ""))
    assert failed["isready"] is False
    assert not list(z["store"].rglob(f"{bad['id']}*"))
    # a URL that does not exist ends in an error status too
    missing = api("registerTemplate", name="gone", format="RAW", hypervisor="KVM",
                  url=(tmp_path / "nope.raw").as_uri(), zoneid=z["id"])["template"][0]
    wait_status(api, missing["id"], z["id"], lambda r: "cannot read" in r.get("status", ""))
    # bad input is a 431, never a download
    status, err = api.error("registerTemplate", name="x", format="QCOW2", hypervisor="KVM", url="ftp://h/x",
                            zoneid=z["id"])
    assert status == 431 and "unsupported URL" in err["errortext"]
    status, _ = api.error("registerTemplate", name="x", format="QCOW2", hypervisor="KVM", url=src.as_uri(),
                          zoneid=z["id"], checksum="{SHA-256}abc")
    assert status == 431


def test_filters_permissions_per_zone_rows_and_copy(server: Any, tmp_path: Path) -> None:
    api = server.api
    z1 = make_zone(server, tmp_path, "zone-a")
    z2 = make_zone(server, tmp_path, "zone-b")
    src = tmp_path / "img.raw"
    src.write_bytes(b"y" * 4096)
    # all zones (-1): one row per zone
    reg = api("registerTemplate", name="everywhere", format="RAW", hypervisor="Simulator", url=src.as_uri(),
              zoneid="-1", ispublic=True)
    assert reg["count"] == 2 and {r["zoneid"] for r in reg["template"]} == {z1["id"], z2["id"]}
    tid = reg["template"][0]["id"]
    for z in (z1, z2):
        wait_status(api, tid, z["id"], lambda r: r["isready"])
    rows = api("listTemplates", templatefilter="all", id=tid)
    assert rows["count"] == 2
    assert api("listTemplates", templatefilter="all", id=tid, showunique=True)["count"] == 1

    # a user: sees public community templates, not admin's private ones; shared ones after permission
    user = api.new_account()
    uapi = api.client_for(user)
    priv = api("registerTemplate", name="private", format="RAW", hypervisor="Simulator", url=src.as_uri(),
               zoneid=z1["id"])["template"][0]
    wait_status(api, priv["id"], z1["id"], lambda r: r["isready"])
    names = {r["name"] for r in uapi("listTemplates", templatefilter="executable").get("template", [])}
    assert "everywhere" in names and "private" not in names
    assert "everywhere" in {r["name"] for r in uapi("listTemplates", templatefilter="community")["template"]}
    assert uapi("listTemplates", templatefilter="self") == {}
    assert uapi("listTemplates", templatefilter="sharedexecutable") == {}
    status, _ = uapi.error("updateTemplate", id=priv["id"], name="stolen")
    assert status == 531
    api("updateTemplatePermissions", id=priv["id"], accounts=user["name"], op="add")
    shared = uapi("listTemplates", templatefilter="sharedexecutable")["template"]
    assert [r["name"] for r in shared] == ["private"]
    perms = api("listTemplatePermissions", id=priv["id"])["templatepermission"]
    assert perms["account"] == [user["name"]]
    # user registers its own; admin's "self" does not list it but "all" does
    mine = uapi("registerTemplate", name="mine", format="RAW", hypervisor="Simulator", url=src.as_uri(),
                zoneid=z1["id"])["template"][0]
    assert mine["account"] == user["name"] and mine["ispublic"] is False
    wait_status(uapi, mine["id"], z1["id"], lambda r: r["isready"])
    assert "mine" not in {r["name"] for r in api("listTemplates", templatefilter="self")["template"]}
    assert "mine" in {r["name"] for r in api("listTemplates", templatefilter="all")["template"]}

    # update: name, displaytext, passwordenabled
    up = api("updateTemplate", id=priv["id"], displaytext="new text", passwordenabled=True)["template"]
    assert up["displaytext"] == "new text" and up["passwordenabled"] is True

    # copy zone-a -> zone-b, then per-zone delete
    copied = api.run("copyTemplate", id=priv["id"], sourcezoneid=z1["id"], destzoneid=z2["id"])["template"]
    assert copied["zoneid"] == z2["id"] and copied["isready"] is True
    assert api("listTemplates", templatefilter="self", id=priv["id"])["count"] == 2
    assert list(z2["store"].rglob(f"{priv['id']}.img"))
    api.run("deleteTemplate", id=priv["id"], zoneid=z1["id"])
    rows = api("listTemplates", templatefilter="self", id=priv["id"])["template"]
    assert [r["zoneid"] for r in rows] == [z2["id"]]
    assert not list(z1["store"].rglob(f"{priv['id']}.img"))


def test_isos(server: Any, tmp_path: Path) -> None:
    api = server.api
    z = make_zone(server, tmp_path)
    src = tmp_path / "boot.iso"
    src.write_bytes(b"CD001" * 1000)
    reg = api("registerIso", name="boot", url=src.as_uri(), zoneid=z["id"], ispublic=True)
    assert reg["count"] == 1
    iso = reg["iso"][0]
    assert iso["format"] == "ISO" and iso["bootable"] is True

    def ready() -> bool:
        rows = api("listIsos", isofilter="self", id=iso["id"]).get("iso", [])
        return bool(rows) and rows[0]["isready"]

    wait_for(ready, what="ISO download")
    assert list((z["store"] / "iso").rglob(f"{iso['id']}.iso"))
    # ISOs do not show up as templates and vice versa
    assert "boot" not in {r["name"] for r in api("listTemplates", templatefilter="all").get("template", [])}
    r = api.call("deleteIso", id=iso["id"])
    assert list(r.json()) == ["deleteisosresponse"]
    api.wait(r.json()["deleteisosresponse"]["jobid"])
    assert api("listIsos", isofilter="self", id=None, name="boot") == {}
    assert not list((z["store"] / "iso").rglob(f"{iso['id']}.iso"))


def test_create_template_from_simulator_volume(server: Any, tmp_path: Path) -> None:
    """createTemplate asks the driver for the volume; the simulator keeps no bytes, so the store gets a marker
    file and the template records the volume's size."""
    from management.drivers.base import PoolSpec
    from management.drivers.registry import driver_for_host
    from management.models.identity import Account
    from management.models.infra import Cluster, Host, StoragePool
    from management.models.storage import Volume

    api = server.api
    z = make_zone(server, tmp_path)
    url = f"http://sim/ct-{tmp_path.name}/h0"
    with server.server.runtime.db.session() as s:
        cl = s.query(Cluster).filter_by(zone_id=z["dbid"]).one()
        s.add(Host(name="h0", zone_id=z["dbid"], pod_id=cl.pod_id, cluster_id=cl.id, hypervisor_type="Simulator",
                   url=url, status="Up"))
        pool = StoragePool(name="ps0", zone_id=z["dbid"], pod_id=cl.pod_id, cluster_id=cl.id,
                           url="nfs://x/ps0", path="/ps0")
        s.add(pool)
        s.flush()
        admin = s.query(Account).filter_by(name="admin").one()
        vol = Volume(name="ROOT-1", account_id=admin.id, domain_id=admin.domain_id, zone_id=z["dbid"],
                     pool_id=pool.id, volume_type="ROOT", state="Ready", size=5 * 1024**3)
        s.add(vol)
        s.flush()
        pool_uuid, vol_uuid = pool.uuid, vol.uuid
    drv = driver_for_host(url, "Simulator")
    drv.ensure_pool(PoolSpec(name=pool_uuid, path="/ps0"))
    drv.create_volume(pool_uuid, vol_uuid, 7 * 1024**3)
    ostype = None
    from management.models.offerings import OsCategory, OsType

    with server.server.runtime.db.session() as s:
        cat = OsCategory(name="CentOS")
        s.add(cat)
        s.flush()
        os_row = OsType(category_id=cat.id, display_name="CentOS 5.6 (64-bit)")
        s.add(os_row)
        s.flush()
        ostype = os_row.uuid
    started = api("createTemplate", name="from-vol", ostypeid=ostype, volumeid=vol_uuid)
    assert set(started) == {"id", "jobid"}
    job = api.wait(started["jobid"])
    assert job["jobstatus"] == 1, job
    t = job["jobresult"]["template"]
    assert t["id"] == started["id"] and t["isready"] is True and t["size"] == 7 * 1024**3
    assert t["ostypeid"] == ostype and t["hypervisor"] == "Simulator"
    files = list(z["store"].rglob(f"{t['id']}.qcow2"))
    assert len(files) == 1 and b"template without content" in files[0].read_bytes()
    rows = api("listTemplates", templatefilter="self", id=t["id"])["template"]
    assert rows[0]["status"] == "Download Complete"
    # from a snapshot (of the same volume): the snapshot's size is recorded
    from management.models.storage import Snapshot

    with server.server.runtime.db.session() as s:
        vol = s.query(Volume).filter_by(uuid=vol_uuid).one()
        snap = Snapshot(name="snap1", account_id=vol.account_id, domain_id=vol.domain_id, zone_id=vol.zone_id,
                        volume_id=vol.id, state="BackedUp", size=3 * 1024**3, hypervisor_type="Simulator")
        s.add(snap)
        s.flush()
        snap_uuid = snap.uuid
    t2 = api.run("createTemplate", name="from-snap", ostypeid=ostype, snapshotid=snap_uuid)["template"]
    assert t2["isready"] is True and t2["size"] == 3 * 1024**3 and t2["hypervisor"] == "Simulator"
    # bad input: neither or both sources, a volume that is not Ready
    status, _ = api.error("createTemplate", name="x", ostypeid=ostype)
    assert status == 431
    status, _ = api.error("createTemplate", name="x", ostypeid=ostype, volumeid=vol_uuid, snapshotid=snap_uuid)
    assert status == 431


def test_unfinished_downloads_resume(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A download a previous process never finished (simulated: never started) is restarted lazily."""
    from management.services.storage import templates

    api = server.api
    z = make_zone(server, tmp_path)
    src = tmp_path / "late.raw"
    src.write_bytes(b"l" * 2048)
    monkeypatch.setattr(templates, "submit", lambda runtime, ids: None)
    row = api("registerTemplate", name="late", format="RAW", hypervisor="KVM", url=src.as_uri(),
              zoneid=z["id"])["template"][0]
    monkeypatch.undo()
    server.server.runtime.extras.pop("template_downloads_resumed", None)  # as in a fresh process
    done = wait_status(api, row["id"], z["id"], lambda r: r["isready"])
    assert done["size"] == 2048
