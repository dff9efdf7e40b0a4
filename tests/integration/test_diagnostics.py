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
