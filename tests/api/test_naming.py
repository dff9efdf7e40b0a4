"""Two clouds on one host never share a host object's name: each database gets its own cloud id at first start,
and instance names, public bridges, router namespaces and security-group tables carry it (services/naming.py);
a database from before cloud ids keeps the names it had."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_rules import _setup
from tests.conftest import Backend

pytestmark = pytest.mark.api


def _boot(settings: Any) -> dict[str, str]:
    """Starts a server on `settings` (no workers), reads its names, stops it."""
    from management.server import build
    from management.services import configuration, naming
    from management.services.compute import vm as vm_service

    srv = build(settings, start_workers=False)
    try:
        with srv.runtime.db.session() as s:
            cid = naming.cloud_id(s)
            return {"cid": cid, "instance.name": configuration.get(s, "instance.name") or "",
                    "suffix": vm_service.instance_suffix(s), "bridge": naming.public_bridge(1, cid),
                    "router": naming.router_key(cid, 1, settings.state_dir), "sg": naming.sg_table(cid),
                    "vpcrouter": naming.appliance_key(cid, "v", 1, str(settings.state_dir)),
                    "ilb": naming.appliance_key(cid, "b", 1, "a-uuid")}
    finally:
        srv.queue.stop()
        srv.runtime.db.dispose()


def test_each_cloud_has_its_own_names_and_keeps_them(backend: Backend, settings_factory: Callable[..., Any],
                                                      tmp_path: Path) -> None:
    a = _boot(settings_factory(state_dir=backend.state_dir, db_url=backend.url))
    other = tmp_path / "other"
    b = _boot(settings_factory(state_dir=other, db_url=f"sqlite:///{other / 'devcloud.db'}"))
    assert re.fullmatch(r"[a-z][a-z0-9]{4}", a["cid"]) and a["cid"] != b["cid"]
    assert a["instance.name"] == a["suffix"] == f"VM{a['cid']}"  # i-<account>-<vm>-VM<cloud id>
    for name in ("suffix", "bridge", "router", "sg", "vpcrouter", "ilb"):
        assert a[name] != b[name], name
    assert a["bridge"] == f"dcp{a['cid']}1" and len(a["bridge"]) <= 15  # IFNAMSIZ
    assert a["router"].startswith(a["cid"]) and len(f"vrg-{a['router']}") <= 15
    assert a["sg"] == f"devcloud_sg_{a['cid']}"
    assert a["vpcrouter"] == f"{a['cid']}0v1" and a["ilb"] == f"{a['cid']}0b1"
    again = _boot(settings_factory(state_dir=backend.state_dir, db_url=backend.url))
    assert again == a  # a restart keeps every name


def test_a_cloud_from_before_cloud_ids_keeps_its_names(backend: Backend,
                                                        settings_factory: Callable[..., Any]) -> None:
    from sqlalchemy import create_engine, text

    settings = settings_factory(state_dir=backend.state_dir, db_url=backend.url)
    _boot(settings)
    engine = create_engine(backend.url)  # the database as the previous release left it
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM configuration WHERE name = 'devcloud.cloud.id'"))
        conn.execute(text("UPDATE configuration SET value = 'VM', default_value = 'VM' WHERE name = 'instance.name'"))
    engine.dispose()
    old = _boot(settings)
    assert old["cid"] == "" and old["suffix"] == "VM" and old["bridge"] == "dcpub1"
    assert old["sg"] == "devcloud_sg" and re.fullmatch(r"[0-9a-f]{3}1", old["router"])


def test_a_router_namespace_carries_the_cloud_id(server: Any) -> None:
    from management.models.rules import RouterNetwork
    from management.services import naming

    _setup(server)
    with server.server.runtime.db.session(write=False) as s:
        cid = naming.cloud_id(s)
        keys = [r.provider_key for r in s.query(RouterNetwork)]
    assert cid and keys and all(k.startswith(cid) for k in keys), (cid, keys)


def test_appliance_keys_never_meet_a_network_routers_key() -> None:
    """A VPC's router, an internal LB and a network's router all live in ``dcr-<key>`` namespaces of one host."""
    from management.services import naming

    cid = "k3x9q"
    nets = {naming.router_key(cid, n, "/unused") for n in range(1, 36 ** 3 + 1)}
    for kind in ("v", "b"):
        keys = {naming.appliance_key(cid, kind, i, "/unused") for i in (1, 35, 36, 1117, 36 ** 3 - 1)}
        assert not keys & nets and all(len(k) <= 10 for k in keys), sorted(keys & nets)
    assert naming.router_key(cid, 1117, "/unused") == f"{cid}v1"  # what a plain kind letter would have met
    with pytest.raises(ValueError):
        naming.appliance_key(cid, "v", 36 ** 3, "/unused")
