"""The web UI in a real browser (Debian's Chromium driven by playwright-core through tests/ui/run.mjs), against a
management server served on a loopback port with a simulator zone. The simulator host's VNC console is a small
RFB server (fakevnc) so noVNC, the console proxy and key input are exercised end to end.

Screenshots land in tests/ui/artifacts/ (gitignored)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.conftest import ApiClient, _free_port, admin_keys, wait_for
from tests.ui.fakevnc import FakeVnc
from tests.ui.runner import ARTIFACTS, ROOT, run_ui, ui_missing

pytestmark = pytest.mark.e2e


@pytest.fixture
def served_ui(tmp_path: Path) -> Iterator[dict[str, Any]]:
    why = ui_missing()
    if why:
        pytest.skip(why)
    import uvicorn

    from management.api.app import api_app
    from management.drivers.simulator import SimulatorDriver, reset_simulator
    from management.server import build
    from management.services.identity import rbac
    from management.settings import Settings
    from tests.api.test_vm_lifecycle import build_sim_zone

    rbac.RULES.invalidate()
    state = tmp_path / "state"
    srv = build(Settings(state_dir=state, api_port=0, integration_port=0), start_workers=True)
    port = _free_port()
    userver = uvicorn.Server(uvicorn.Config(api_app(srv.dispatcher), host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="off"))
    thread = threading.Thread(target=userver.run, daemon=True)
    thread.start()
    wait_for(lambda: userver.started, timeout=20, what="uvicorn")
    zone = build_sim_zone(SimpleNamespace(server=srv), tmp_path, hosts=1, network_type="Advanced")  # type: ignore[arg-type]
    _guest_and_public_network(srv, zone)
    vnc = FakeVnc()
    SimulatorDriver(zone["urls"][0])._host.next_console_port = vnc.port
    keys = admin_keys(state)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    api = ApiClient(http, keys["apikey"], keys["secretkey"])
    api.peers["api"] = api
    try:
        yield {"base": f"http://127.0.0.1:{port}", "api": api, "zone": zone, "vnc": vnc, "admin": keys}
    finally:
        userver.should_exit = True
        thread.join(10)
        vnc.close()
        srv.queue.stop()
        srv.runtime.db.dispose()
        for url in zone["urls"]:
            reset_simulator(url)
        rbac.RULES.invalidate()


def _guest_and_public_network(srv: Any, zone: dict[str, Any], public: tuple[int, int] = (2, 30)) -> None:
    """What the network forms need in the advanced zone, as rows (as tests/api/test_networks.py's make_zone): a
    physical network carrying guest (VLANs 100-200) and public traffic, and a public range 192.168.2.2-30."""
    from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange

    with srv.runtime.db.session() as s:
        pn = PhysicalNetwork(name="ui-pnet", zone_id=zone["zone_id"], vlan="100-200", state="Enabled",
                             isolation_methods="VLAN")
        s.add(pn)
        s.flush()
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Guest"))
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Public"))
        r = VlanIpRange(zone_id=zone["zone_id"], physical_network_id=pn.id, vlan_tag="50", gateway="192.168.2.1",
                        netmask="255.255.255.0", start_ip=f"192.168.2.{public[0]}", end_ip=f"192.168.2.{public[1]}")
        s.add(r)
        s.flush()
        for n in range(public[0], public[1] + 1):
            s.add(PublicIpAddress(public_ip_address=f"192.168.2.{n}", zone_id=zone["zone_id"], vlan_id=r.id,
                                  physical_network_id=pn.id))


def _deploy(api: ApiClient, zone: dict[str, Any], name: str) -> dict[str, Any]:
    return api.run("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],  # type: ignore
                   templateid=zone["template"], name=name)["virtualmachine"]


FORMS = {"account": "ui-acct", "user": "ui-acct-2", "email": "ui-acct@example.org", "firstname": "Ada",
         "lastname": "Lovelace", "network": "ui-net", "networkText": "UI test network", "fwCidr": "203.0.113.0/24",
         "sg": "ui-sg", "sgCidr": "198.51.100.0/24", "lb": "ui-lb"}


def test_the_committed_bundle_is_built_from_ui_src(tmp_path: Path) -> None:
    """management/ui_dist is what the package serves; rebuilt from ui/src it must come out the same, or a fix in the
    source would be tested here and never shipped."""
    why = ui_missing()
    if why:
        pytest.skip(why)
    out = tmp_path / "dist"
    proc = subprocess.run(["node", "node_modules/vite/bin/vite.js", "build", "--outDir", str(out), "--emptyOutDir"],
                          cwd=ROOT / "ui", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shipped = ROOT / "management" / "ui_dist"

    def files(d: Path) -> dict[str, bytes]:
        return {str(f.relative_to(d)): f.read_bytes() for f in sorted(d.rglob("*")) if f.is_file()}

    built, committed = files(out), files(shipped)
    assert sorted(built) == sorted(committed), "management/ui_dist is stale: run `make ui` and commit it"
    assert [n for n in built if built[n] != committed[n]] == [], "management/ui_dist is stale: run `make ui`"


def test_admin_deploys_opens_console_types_stops_destroys(served_ui: dict[str, Any], tmp_path: Path) -> None:
    api = served_ui["api"]
    offering = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")
    cfg = {"base": served_ui["base"], "artifacts": str(ARTIFACTS), "typeLine": "hello",
           "admin": {"username": served_ui["admin"]["username"], "password": served_ui["admin"]["password"]},
           "forms": {**FORMS, "offering": offering["networkoffering"][0]["id"]}}
    t0 = time.monotonic()
    out = run_ui(cfg, tmp_path, "admin")
    assert out["ok"], f"{out.get('error')}\nsteps: {out['steps']}"
    _assert_forms_made(api, out)
    assert any("lit pixels" in s for s in out["steps"]), out
    assert "an instance chosen while its picker refills stays chosen" in out["steps"], out["steps"]
    assert "hello\n" in served_ui["vnc"].typed, served_ui["vnc"].keys  # the keys reached the "guest"
    vms = served_ui["api"]("listVirtualMachines", name="ui-vm-1", listall=True).get("virtualmachine", [])
    assert vms and vms[0]["state"] in ("Destroyed", "Expunging"), vms
    for name in ("login", "dashboard", "instance", "console", "deploy-wizard", "infrastructure", "account-form",
                 "network-forms"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 1000
    print(f"admin scenario {time.monotonic() - t0:.1f}s: {out['steps']}")


def test_plain_user_sees_no_admin_pages_nor_other_vms(served_ui: dict[str, Any], tmp_path: Path) -> None:
    api, zone = served_ui["api"], served_ui["zone"]
    admin_vm = _deploy(api, zone, "admin-only-vm")
    user = api.new_account(password="userpass1")
    user_vm = _deploy(api.client_for(user), zone, "user-vm")
    cfg = {"base": served_ui["base"], "artifacts": str(ARTIFACTS), "adminVm": admin_vm["id"], "userVm": user_vm["id"],
           "user": {"username": user["username"], "password": "userpass1"}}
    out = run_ui(cfg, tmp_path, "user")
    assert out["ok"], f"{out.get('error')}\nsteps: {out['steps']}"
    assert (ARTIFACTS / "user-instances.png").stat().st_size > 1000


def test_api_reference_lists_commands_and_shows_a_commands_parameters(served_ui: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    """The API reference page renders /client/api/openapi.json: every command the server answers, a filter, and a
    command's parameters with their required flags and descriptions as the registry has them."""
    from management.api.cloudstack import registry

    cfg = {"base": served_ui["base"], "artifacts": str(ARTIFACTS), "command": "deployVirtualMachine",
           "admin": {"username": served_ui["admin"]["username"], "password": served_ui["admin"]["password"]}}
    out = run_ui(cfg, tmp_path, "apiref")
    assert out["ok"], f"{out.get('error')}\nsteps: {out['steps']}"
    ref = out["apiref"]
    assert ref["listed"] == sorted(registry.commands(), key=str.lower), len(ref["listed"])
    assert "deployVirtualMachine" in ref["filtered"] and len(ref["filtered"]) < len(ref["listed"])
    assert all("deployvirtualmachi" in c.lower() for c in ref["filtered"]), ref["filtered"]
    assert ref["hash"] == "#/api/deployVirtualMachine"
    spec = registry.lookup("deployVirtualMachine")
    assert spec is not None
    want = {i["name"]: i for i in spec.facts.params_info}
    shown = {p["name"]: p for p in ref["params"]}
    assert set(shown) == set(want), set(shown) ^ set(want)
    for name in ("zoneid", "serviceofferingid", "templateid", "userdata"):
        assert shown[name]["required"] == bool(want[name]["required"]), shown[name]
        assert shown[name]["description"] == want[name]["description"], shown[name]
    assert shown["zoneid"]["required"] and shown["serviceofferingid"]["required"]
    assert (ARTIFACTS / "api-reference.png").stat().st_size > 1000


def _assert_forms_made(api: ApiClient, out: dict[str, Any]) -> None:
    """What the admin typed into the account and network forms exists in the API with those values, and the
    refused submissions showed the server's error text in the form."""
    made, errors = out["made"], out["errors"]
    f = FORMS
    acct = api("listAccounts", name=f["account"], listall=True)["account"]
    assert len(acct) == 1 and acct[0]["rolename"] == "User" and acct[0]["domain"] == "ROOT", acct
    users = {u["username"]: u for u in api("listUsers", account=f["account"], domainid=acct[0]["domainid"],
                                             listall=True)["user"]}
    assert set(users) == {f["account"], f["user"]}, users
    assert (users[f["account"]]["email"], users[f["account"]]["firstname"], users[f["account"]]["lastname"]) == \
        (f["email"], f["firstname"], f["lastname"])
    assert users[f["user"]]["email"] == f"{f['user']}@example.org" and users[f["user"]]["account"] == f["account"]
    assert "already exists" in errors["account"], errors

    net = api("listNetworks", id=made["networkId"], listall=True)["network"][0]
    assert (net["name"], net["displaytext"], net["type"], net["account"]) == \
        (f["network"], f["networkText"], "Isolated", "admin"), net
    vm = api("listVirtualMachines", id=made["vmId"], listall=True)["virtualmachine"][0]
    assert vm["name"] == "ui-vm-1" and vm["nic"][0]["networkid"] == net["id"], vm  # the wizard chose the network

    ip = api("listPublicIpAddresses", id=made["ipId"])["publicipaddress"][0]
    assert ip["ipaddress"] == made["ip"] and ip["associatednetworkid"] == net["id"] and not ip["issourcenat"], ip
    fws = api("listFirewallRules", ipaddressid=ip["id"])["firewallrule"]
    assert any((r["protocol"], r["startport"], r["endport"], r["cidrlist"]) == ("tcp", 22, 22, f["fwCidr"])
               for r in fws), fws
    assert "ports must be 1..65535" in errors["firewall"], errors
    pf = api("listPortForwardingRules", ipaddressid=ip["id"])["portforwardingrule"]
    assert [(r["protocol"], r["publicport"], r["privateport"], r["virtualmachineid"]) for r in pf] == \
        [("tcp", "2222", "22", vm["id"])], pf
    lb = api("listLoadBalancerRules", name=f["lb"], listall=True)["loadbalancerrule"]
    assert [(r["publicipid"], r["publicport"], r["privateport"], r["algorithm"]) for r in lb] == \
        [(ip["id"], "80", "8080", "leastconn")], lb
    members = api("listLoadBalancerRuleInstances", id=lb[0]["id"]).get("loadbalancerruleinstance", [])
    assert [m["id"] for m in members] == [vm["id"]], members

    nat = api("listPublicIpAddresses", id=made["natIpId"])["publicipaddress"][0]
    assert nat["associatednetworkid"] == net["id"] and nat["isstaticnat"] is False, nat  # enabled, then disabled
    assert out["natShown"] == "ui-vm-1", out

    sg = api("listSecurityGroups", securitygroupname=f["sg"])["securitygroup"][0]
    assert [(r["protocol"], r["startport"], r["endport"], r["cidr"]) for r in sg["ingressrule"]] == \
        [("tcp", 80, 80, f["sgCidr"])], sg
