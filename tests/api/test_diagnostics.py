"""runDiagnostics on a simulated zone's router, answered as CloudStack's simulator answers it; the checks on the
type, the extra arguments and the target. (In a real router's namespace: tests/integration/test_diagnostics.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_public_ip_lifecycle import failure
from tests.api.test_rules import _setup

pytestmark = pytest.mark.api


def test_run_diagnostics_on_a_simulated_router(server: Any) -> None:
    api = server.api
    env = _setup(server)
    r = api("listRouters", networkid=env["net"]["id"])["router"][0]
    from management.models.compute import VirtualMachine

    with server.server.runtime.db.session(write=False) as s:
        name = s.query(VirtualMachine).filter_by(uuid=r["id"]).one().instance_name
    out = api.run("runDiagnostics", targetid=r["id"], ipaddress="8.8.8.8", type="ping")["diagnostics"]
    assert out == {"stdout": f"PING 8.8.8.8 executed in {name}", "stderr": "", "exitcode": "0"}
    out = api.run("runDiagnostics", {"targetid": r["id"], "ipaddress": "10.1.1.1", "type": "Traceroute",
                                     "params": "-m 5"})["diagnostics"]
    assert out["stdout"] == f"TRACEROUTE 10.1.1.1 executed in {name}"
    assert failure(api, "runDiagnostics", targetid=r["id"], ipaddress="8.8.8.8", type="nslookup") == (
        431, "nslookup Is not a valid diagnostics command type. ")
    assert failure(api, "runDiagnostics", targetid=r["id"], ipaddress="8.8.8.8", type="ping",
                   params="-c 1; reboot") == (431, "Optional parameters contain unwanted characters: -c 1; reboot")
    assert failure(api, "runDiagnostics", targetid=r["id"], ipaddress="-f", type="ping")[0] == 431
    status, err = api.error("runDiagnostics", targetid=r["id"], type="ping")
    assert status == 431 and "ipaddress" in err["errortext"]
    user = api.client_for(api.new_account())
    assert user.error("runDiagnostics", targetid=r["id"], ipaddress="8.8.8.8", type="ping")[0] == 401


def test_diagnostics_data_of_a_simulated_router(server: Any, tmp_path: Any) -> None:
    from management.models.compute import VirtualMachine
    from management.models.infra import ImageStore

    api = server.api
    env = _setup(server)
    r = api("listRouters", networkid=env["net"]["id"])["router"][0]
    with server.server.runtime.db.session(write=False) as s:
        zone_id = s.query(VirtualMachine).filter_by(uuid=r["id"]).one().zone_id
    assert failure(api, "getDiagnosticsData", targetid=r["id"]) == (
        530, f"No Secondary storage found in Zone with Id: {zone_id}")
    with server.server.runtime.db.session() as s:
        s.add(ImageStore(name="diag", zone_id=zone_id, url=f"file://{tmp_path}", protocol="file", provider="NFS",
                         local_path=str(tmp_path)))
    # the simulator keeps no files of its routers
    assert failure(api, "getDiagnosticsData", targetid=r["id"]) == (
        530, f"Failed to generate diagnostics zip file in the system VM {r['id']}")
    user = api.client_for(api.new_account())
    assert user.error("getDiagnosticsData", targetid=r["id"])[0] == 401
