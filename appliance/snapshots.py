"""What a sandbox owns outside its state directory, and consistent snapshots of the whole sandbox.

The inventory is read from the sandbox's own database (domains are named by VM uuid, directory pools by pool
uuid, bridges by the server's own naming functions, router namespaces from `<state>/network/routers/*`), so
`down --all/--purge` and `restore` touch only what this sandbox made, never a teammate's domains.

A snapshot is taken with the management server stopped (quiesced: no job half-way) and the sandbox's running
domains paused while the database (SQLite online backup API, or `mariadb-dump`), primary and secondary storage
and the router state are copied; then the domains resume and the server starts again. Restore stops the server,
destroys the sandbox's domains and routers, puts the copies back, re-creates the domains that were Running at
snapshot time from their saved XML, and starts the server (which re-implements the Running routers).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance.client import ApiError
from appliance.sandbox import Sandbox

URI = "qemu:///system"


@dataclass
class Inventory:
    domains: list[dict[str, Any]] = field(default_factory=list)  # uuid, instance_name, state, vm_type
    pools: list[dict[str, Any]] = field(default_factory=list)  # uuid, path, pool_type
    stores: list[str] = field(default_factory=list)  # image store paths (file://)
    bridges: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)  # public range gateways (addresses on dcpub<zone id>)
    routers: list[str] = field(default_factory=list)  # router keys under <state>/network/routers
    cloud_id: str = ""  # services/naming.py: "" for a cloud made before cloud ids (its tables are shared names)


def _rows(sb: Sandbox, sql: str) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(sb.db_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _db_exists(sb: Sandbox) -> bool:
    url = sb.db_url
    return not url.startswith("sqlite") or Path(url.split("///", 1)[-1]).is_file()


def router_dir(sb: Sandbox) -> Path:
    return sb.state_dir / "network"


def inventory(sb: Sandbox) -> Inventory:
    inv = Inventory()
    if not _db_exists(sb):
        return inv
    inv.domains = _rows(sb, "SELECT uuid, instance_name, state, vm_type FROM vm_instance "
                            "WHERE removed IS NULL AND vm_type = 'User'")
    inv.pools = _rows(sb, "SELECT uuid, path, pool_type, url FROM storage_pool WHERE removed IS NULL")
    inv.stores = [r["url"][len("file://"):] for r in _rows(sb, "SELECT url FROM image_store")
                  if str(r["url"]).startswith("file://")]
    from management.services import naming  # late: the CLI starts without the server's models
    from management.services.network.networks import guest_bridge_for

    cid = next((str(r["value"] or "") for r in _rows(sb, "SELECT value FROM configuration WHERE name = "
                                                           f"'{naming.SETTING}'")), "")
    inv.cloud_id = cid
    inv.bridges = [guest_bridge_for(str(r["uuid"])) for r in _rows(sb, "SELECT uuid FROM networks")]
    inv.bridges += [naming.public_bridge(int(r["id"]), cid) for r in _rows(sb, "SELECT id FROM data_center")]
    inv.gateways = [str(r["gateway"]) for r in _rows(sb, "SELECT gateway FROM vlan") if r.get("gateway")]
    rdir = router_dir(sb) / "routers"
    inv.routers = sorted(p.name for p in rdir.iterdir() if p.is_dir()) if rdir.is_dir() else []
    return inv


def _virsh(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True, text=True, check=check,
                          timeout=60)


def _domain_state(uuid: str) -> str | None:
    r = _virsh("domstate", uuid)
    return r.stdout.strip() if r.returncode == 0 else None


def _router_provider(sb: Sandbox) -> Any:
    from management.network.vr import NamespaceRouterProvider

    return NamespaceRouterProvider(router_dir(sb))


def _expunge_vm(c: Any, vm_id: str, *, wait: float = 120.0, poll: float = 0.5) -> None:
    """Destroys and expunges one VM. A 431 means someone else got there first (the expunger, or a destroy
    already under way, which leaves the VM listed as Expunging until its job ends): then wait for it to go."""
    try:
        c.run("destroyVirtualMachine", id=vm_id, expunge=True)
        return
    except ApiError as exc:
        if exc.status != 431:
            raise
        refusal = exc
    deadline = time.monotonic() + wait
    while True:
        left = [v for v in c.items("listVirtualMachines", "virtualmachine") if v["id"] == vm_id]
        if not left:
            return
        if left[0].get("state") != "Expunging" or time.monotonic() > deadline:
            raise refusal
        time.sleep(poll)


def stop_guests(sb: Sandbox, inv: Inventory, *, purge: bool = False) -> list[str]:
    """--all: stop the sandbox's VMs and routers through the API (the records follow); --purge destroys them."""
    done: list[str] = []
    c = sb.client(timeout=60)
    try:
        for vm in c.items("listVirtualMachines", "virtualmachine"):
            if purge:
                _expunge_vm(c, vm["id"])
            elif vm.get("state") == "Running":
                c.run("stopVirtualMachine", id=vm["id"], forced=True)
            done.append(vm["name"])
        for r in c.items("listRouters", "router"):
            if purge:
                c.run("destroyRouter", id=r["id"])
            elif r.get("state") == "Running":
                c.run("stopRouter", id=r["id"], forced=True)
            done.append(r["name"])
    finally:
        c.close()
    return done


def destroy_domains(inv: Inventory, undefine: bool) -> list[str]:
    out = []
    for d in inv.domains:
        state = _domain_state(d["uuid"])
        if state is None:
            continue
        if state != "shut off":
            _virsh("destroy", d["uuid"])
        if undefine:
            _virsh("undefine", d["uuid"], "--nvram")
            _virsh("undefine", d["uuid"])
        out.append(f"domain {d['instance_name']}")
    return out


def destroy_routers(sb: Sandbox, inv: Inventory) -> list[str]:
    if not inv.routers:
        return []
    prov = _router_provider(sb)
    out = []
    for key in inv.routers:
        try:
            prov.destroy(key)
            out.append(f"router {key}")
        except Exception as exc:  # noqa: BLE001 - best effort; reported
            out.append(f"router {key} (teardown failed: {exc})")
    return out


def purge(sb: Sandbox) -> list[str]:
    """Removes what the (stopped) sandbox made outside its state directory: domains, pools, routers, bridges."""
    inv = inventory(sb)
    out = destroy_domains(inv, undefine=True)
    out += destroy_routers(sb, inv)
    for p in inv.pools:
        if _virsh("pool-info", p["uuid"]).returncode == 0:
            _virsh("pool-destroy", p["uuid"])
            _virsh("pool-undefine", p["uuid"])
            out.append(f"libvirt pool {p['uuid']}")
    for br in inv.bridges:
        if release_bridge(br, inv.gateways):
            out.append(f"bridge {br}")
    if inv.cloud_id:  # the security-group tables carry this cloud's id, so they are never another cloud's
        from management.services import naming

        table = naming.sg_table(inv.cloud_id)
        for family in ("bridge", "ip"):
            if subprocess.run(["nft", "delete", "table", family, table], capture_output=True).returncode == 0:
                out.append(f"nftables table {family} {table}")
    return out


def release_bridge(br: str, gateways: list[str]) -> bool:
    """A cloud made before cloud ids names its public bridge by the zone's row id alone, so another one on this
    machine may share it: remove only our gateway addresses, and the bridge itself only when nothing else is
    plugged in or addressed on it."""
    r = subprocess.run(["ip", "-j", "addr", "show", "dev", br], capture_output=True, text=True)
    if r.returncode != 0:
        return False
    addrs = [a for link in json.loads(r.stdout or "[]") for a in link.get("addr_info", [])
             if a.get("family") == "inet"]
    for a in addrs:
        if a["local"] in gateways:
            subprocess.run(["ip", "addr", "del", f"{a['local']}/{a['prefixlen']}", "dev", br], capture_output=True)
    others = [a for a in addrs if a["local"] not in gateways]
    ports = subprocess.run(["ip", "-j", "link", "show", "master", br], capture_output=True, text=True).stdout
    if others or json.loads(ports or "[]"):
        return False
    return subprocess.run(["ip", "link", "del", br], capture_output=True).returncode == 0


# ---- snapshots --------------------------------------------------------------------------------------------
def snapshot_dir(sb: Sandbox, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad snapshot name {name!r}")
    return sb.state_dir / "snapshots" / name


def _copy_db(sb: Sandbox, dest: Path) -> str:
    url = sb.db_url
    if url.startswith("sqlite"):
        src = sqlite3.connect(url.split("///", 1)[-1])
        dst = sqlite3.connect(dest / "devcloud.db")
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return "sqlite online backup"
    from sqlalchemy.engine import make_url

    u = make_url(url)
    cmd = ["mariadb-dump", "--single-transaction", "-h", u.host or "127.0.0.1", "-P", str(u.port or 3306),
           "-u", u.username or "root", u.database or "devcloud"]
    if u.password:
        cmd.insert(1, f"-p{u.password}")
    with open(dest / "devcloud.sql", "wb") as f:
        subprocess.run(cmd, stdout=f, check=True)
    return "mariadb-dump"


def _restore_db(sb: Sandbox, src: Path) -> None:
    url = sb.db_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[-1])
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        shutil.copy2(src / "devcloud.db", path)
        return
    from sqlalchemy.engine import make_url

    u = make_url(url)
    cmd = ["mariadb", "-h", u.host or "127.0.0.1", "-P", str(u.port or 3306), "-u", u.username or "root",
           u.database or "devcloud"]
    if u.password:
        cmd.insert(1, f"-p{u.password}")
    with open(src / "devcloud.sql", "rb") as f:
        subprocess.run(cmd, stdin=f, check=True)


def _copytree(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    if src.is_dir():
        dst.parent.mkdir(parents=True, exist_ok=True)
        # cp keeps sparse qcow2 files sparse and tries reflinks first
        subprocess.run(["cp", "-a", "--sparse=always", "--reflink=auto", str(src), str(dst)], check=True)


def _dirs(inv: Inventory) -> dict[str, Path]:
    out = {f"primary-{p['uuid']}": Path(p["path"]) for p in inv.pools if p.get("pool_type") == "Filesystem"}
    out.update({f"secondary-{i}": Path(s) for i, s in enumerate(inv.stores)})
    return out


def snapshot(sb: Sandbox, name: str) -> dict[str, Any]:
    dest = snapshot_dir(sb, name)
    if dest.exists():
        raise FileExistsError(f"snapshot {name} exists ({dest}); delete it first")
    t0 = time.monotonic()
    was_running = sb.pid() is not None
    sb.stop()  # quiesce: no request or job is half-way while we copy
    inv = inventory(sb)
    paused = []
    try:
        for d in inv.domains:
            if _domain_state(d["uuid"]) == "running":
                _virsh("suspend", d["uuid"])
                paused.append(d["uuid"])
        tmp = dest.with_name(f".{name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        how = _copy_db(sb, tmp)
        xml = {}
        for d in inv.domains:
            r = _virsh("dumpxml", "--inactive", d["uuid"])
            if r.returncode == 0:
                xml[d["uuid"]] = r.stdout
        (tmp / "domains.json").write_text(json.dumps(
            {"running": paused, "xml": xml, "domains": inv.domains}, indent=1, default=str))
        dirs = _dirs(inv)
        for label, path in dirs.items():
            _copytree(path, tmp / "files" / label)
        _copytree(router_dir(sb), tmp / "files" / "network")
        for f in ("admin.json", "sandbox.json", "server-id"):
            if (sb.state_dir / f).is_file():
                shutil.copy2(sb.state_dir / f, tmp / f)
        if (sb.state_dir / "keys").is_dir():
            _copytree(sb.state_dir / "keys", tmp / "keys")
        meta = {"name": name, "at": time.time(), "db": how, "dirs": {k: str(v) for k, v in dirs.items()},
                "running": paused, "inventory": asdict(inv)}
        (tmp / "snapshot.json").write_text(json.dumps(meta, indent=1, default=str))
        tmp.rename(dest)
    finally:
        for uuid in paused:
            _virsh("resume", uuid)
        if was_running:
            sb.start()
    meta["seconds"] = round(time.monotonic() - t0, 2)
    return meta


def restore(sb: Sandbox, name: str) -> dict[str, Any]:
    src = snapshot_dir(sb, name)
    if not (src / "snapshot.json").is_file():
        raise FileNotFoundError(f"no snapshot {name} in {src.parent}")
    t0 = time.monotonic()
    meta = json.loads((src / "snapshot.json").read_text())
    saved = json.loads((src / "domains.json").read_text())
    sb.stop()
    now = inventory(sb)
    then = Inventory(**meta["inventory"])
    # Stop everything the current and the snapshotted sandbox run; then put the copies back.
    destroy_domains(now, undefine=True)
    destroy_domains(then, undefine=True)
    destroy_routers(sb, now)
    _restore_db(sb, src)
    for label, path in meta["dirs"].items():
        _copytree(src / "files" / label, Path(path))
    _copytree(src / "files" / "network", router_dir(sb))
    if (src / "keys").is_dir():
        _copytree(src / "keys", sb.state_dir / "keys")
    for p in then.pools:
        _virsh("pool-refresh", p["uuid"])
    started = []
    for uuid in saved["running"]:
        xml = saved["xml"].get(uuid)
        if not xml:
            continue
        tmpxml = sb.state_dir / f".restore-{uuid}.xml"
        tmpxml.write_text(xml)
        r = _virsh("define", str(tmpxml))
        tmpxml.unlink(missing_ok=True)
        if r.returncode == 0 and _virsh("start", uuid).returncode == 0:
            started.append(uuid)
    sb.start()
    return {"name": name, "started": started, "seconds": round(time.monotonic() - t0, 2)}


def list_snapshots(sb: Sandbox) -> list[dict[str, Any]]:
    root = sb.state_dir / "snapshots"
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if (p / "snapshot.json").is_file():
            m = json.loads((p / "snapshot.json").read_text())
            out.append({"name": p.name, "at": m.get("at"), "running": len(m.get("running", []))})
    return out
