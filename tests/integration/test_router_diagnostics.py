"""runDiagnostics in a real router's namespace: ping reaches a guest on the network and fails honestly towards an
address nobody holds; traceroute shows the guest one hop away."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_network_api import world  # noqa: F401 - the fixture: a namespace router + guests

pytestmark = pytest.mark.integration


def test_run_diagnostics_in_the_router_namespace(world: dict[str, Any]) -> None:  # noqa: F811
    api, g, vms = world["api"], world["guests"], world["vms"]
    web1 = vms[0]
    assert g[web1["name"]].dhcp() == web1["ip"]
    r = api("listRouters", networkid=world["net"]["id"])["router"][0]
    out = api.run("runDiagnostics", {"targetid": r["id"], "ipaddress": web1["ip"], "type": "ping",
                                     "params": "-c 2 -W 2"})["diagnostics"]
    assert out["exitcode"] == "0", out
    assert f"PING {web1['ip']}" in out["stdout"] and "2 received" in out["stdout"]
    out = api.run("runDiagnostics", {"targetid": r["id"], "ipaddress": "10.77.0.250", "type": "ping",
                                     "params": "-c 1 -W 1"})["diagnostics"]
    assert out["exitcode"] == "1" and "0 received" in out["stdout"]
    out = api.run("runDiagnostics", {"targetid": r["id"], "ipaddress": web1["ip"], "type": "traceroute",
                                     "params": "-n -m 3 -w 2"})["diagnostics"]
    assert out["exitcode"] == "0" and f" {web1['ip']} " in out["stdout"].splitlines()[-1], out


def test_diagnostics_data_of_a_real_router(world: dict[str, Any], tmp_path: Any) -> None:  # noqa: F811
    import io
    import zipfile
    from pathlib import Path
    from urllib.parse import urlsplit

    from management.models.infra import ImageStore, Zone

    api, server = world["api"], world["server"]
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    with server.server.runtime.db.session() as s:
        z = s.query(Zone).filter_by(uuid=world["zone"]["id"]).one()
        s.add(ImageStore(name="diag-store", zone_id=z.id, url=f"file://{store_dir}", protocol="file",
                         provider="NFS", local_path=str(store_dir)))
    r = api("listRouters", networkid=world["net"]["id"])["router"][0]
    url = api.run("getDiagnosticsData", targetid=r["id"])["diagnostics"]["url"]
    path = Path(urlsplit(url).path)
    assert path.is_file() and store_dir in path.parents
    names = zipfile.ZipFile(io.BytesIO(path.read_bytes())).namelist()
    assert {"dnsmasq.conf", "nftables.conf", "ip_addr.txt", "ip_route.txt", "nftables_ruleset.txt"} <= set(names)
    ruleset = zipfile.ZipFile(path).read("nftables_ruleset.txt").decode()
    assert "table ip devcloud" in ruleset
    only = api.run("getDiagnosticsData", targetid=r["id"], files="dnsmasq.conf")["diagnostics"]["url"]
    assert set(zipfile.ZipFile(urlsplit(only).path).namelist()) == {"dnsmasq.conf", "ip_addr.txt", "ip_route.txt",
                                                                     "nftables_ruleset.txt", "sockets.txt"}
