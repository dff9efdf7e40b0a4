"""Load-balancer stickiness and health-check policies through the API (simulator zone: records; the router
rendering is tests/integration/test_vr_network_extras.py): shapes, CloudStack's validation texts, replacement of
the previous stickiness policy, one health check per rule, display flag and custom ids, access of other accounts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_rules import _setup

pytestmark = pytest.mark.api


def _lb(api: Any, env: dict[str, Any], port: int = 80) -> dict[str, Any]:
    return api.run("createLoadBalancerRule", publicipid=env["snat"]["id"], name=f"web{port}", algorithm="roundrobin",
                   publicport=port, privateport=8080)["loadbalancer"]


def test_stickiness_policy_lifecycle(server: Any) -> None:
    api = server.api
    env = _setup(server)
    lb = _lb(api, env)
    started = api("createLBStickinessPolicy", lbruleid=lb["id"], name="sticky", methodname="LbCookie",
                  **{"param[0].name": "cookie-name", "param[0].value": "SRV", "param[1].name": "nocache"})
    assert set(started) == {"id", "jobid"}
    job = api.wait(started["jobid"])
    assert job["jobstatus"] == 1, job
    body = job["jobresult"]["stickinesspolicies"]
    assert body["lbruleid"] == lb["id"] and body["account"] == "admin" and body["zoneid"] == env["zone"]["id"]
    pol = body["stickinesspolicy"][0]
    assert pol["id"] == started["id"] and pol["methodname"] == "LbCookie" and pol["state"] == "Active"
    assert pol["params"] == {"cookie-name": "SRV", "nocache": ""}
    listed = api("listLBStickinessPolicies", lbruleid=lb["id"])
    assert listed["count"] == 1 and listed["stickinesspolicies"][0]["stickinesspolicy"][0]["id"] == pol["id"]
    # a second policy replaces the first (CloudStack applies one stickiness method per rule)
    second = api.run("createLBStickinessPolicy", lbruleid=lb["id"], name="src", methodname="SourceBased",
                     **{"param[0].name": "expire", "param[0].value": "30m"})["stickinesspolicies"]
    now = api("listLBStickinessPolicies", lbruleid=lb["id"])["stickinesspolicies"][0]["stickinesspolicy"]
    assert [p["id"] for p in now] == [second["stickinesspolicy"][0]["id"]]
    assert api("listLBStickinessPolicies", id=now[0]["id"])["stickinesspolicies"][0]["lbruleid"] == lb["id"]
    upd = api.run("updateLBStickinessPolicy", id=now[0]["id"], fordisplay=False)["stickinesspolicies"]
    assert upd["stickinesspolicy"][0]["fordisplay"] is False
    assert api("listLBStickinessPolicies", lbruleid=lb["id"], fordisplay=True)["stickinesspolicies"][0] \
        .get("stickinesspolicy", []) == []
    custom = "0c2e7c66-5b1e-4c4d-9f0a-111111111111"
    api.run("updateLBStickinessPolicy", id=now[0]["id"], customid=custom)
    assert api("listLBStickinessPolicies", id=custom)["count"] == 1
    api.run("deleteLBStickinessPolicy", id=custom)
    assert api("listLBStickinessPolicies", lbruleid=lb["id"])["stickinesspolicies"][0].get("stickinesspolicy", []) \
        == []


def test_stickiness_validation_texts(server: Any) -> None:
    api = server.api
    env = _setup(server)
    lb = _lb(api, env)
    cases = [
        ({"methodname": "Magic"}, f"Failed to match Stickiness method name for LB rule:{lb['id']}"),
        ({"methodname": "LbCookie", "param[0].name": "colour", "param[0].value": "red"},
         "Failed : Stickiness policy does not support param name :colour"),
        ({"methodname": "AppCookie", "param[0].name": "holdtime"}, "Failed : Value expected for the Param :holdtime"),
        ({"methodname": "SourceBased", "param[0].name": "expire", "param[0].value": "soon"},
         f"Failed LB in validation rule id: {lb['id']} Cause: expire is not in valid format"),
    ]
    for extra, text in cases:
        status, err = api.error("createLBStickinessPolicy", lbruleid=lb["id"], name="x", **extra)
        assert (status, err["errortext"]) == (431, text), extra
    status, err = api.error("createLBStickinessPolicy", lbruleid=lb["id"], name="x")
    assert status == 431 and "missing parameter methodname" in err["errortext"]
    fw = api("listFirewallRules", ipaddressid=env["snat"]["id"])["firewallrule"][0]
    status, err = api.error("createLBStickinessPolicy", lbruleid=fw["id"], name="x", methodname="LbCookie")
    assert status == 431 and err["errortext"] == f"Failed: LB rule id: {fw['id']} not present "


def test_health_check_policy_lifecycle(server: Any) -> None:
    api = server.api
    env = _setup(server)
    lb = _lb(api, env)
    status, err = api.error("createLBHealthCheckPolicy", lbruleid=lb["id"], responsetimeout=10, intervaltime=5)
    assert status == 431
    assert err["errortext"] == ("Failed to create HealthCheck policy : Monitor interval must be greater than "
                                "response timeout")
    hc = api.run("createLBHealthCheckPolicy", lbruleid=lb["id"], pingpath="/healthz", intervaltime=3,
                 unhealthythreshold=2)["healthcheckpolicies"]
    p = hc["healthcheckpolicy"][0]
    assert hc["lbruleid"] == lb["id"] and p["pingpath"] == "/healthz" and p["healthcheckinterval"] == 3
    assert p["responsetime"] == 2 and p["healthcheckthresshold"] == 2 and p["unhealthcheckthresshold"] == 2
    status, err = api.error("createLBHealthCheckPolicy", lbruleid=lb["id"])
    assert status == 431
    assert err["errortext"] == ("Failed to create HealthCheck policy: Already policy attached  for the LB Rule:"
                                f"{lb['id']}")
    assert api("listLBHealthCheckPolicies", lbruleid=lb["id"])["count"] == 1
    assert api.run("updateLBHealthCheckPolicy", id=p["id"], fordisplay=False)["healthcheckpolicies"][
        "healthcheckpolicy"][0]["fordisplay"] is False
    api.run("deleteLBHealthCheckPolicy", id=p["id"])
    assert api("listLBHealthCheckPolicies", lbruleid=lb["id"])["healthcheckpolicies"][0].get(
        "healthcheckpolicy", []) == []
    # deleting the rule takes its policies along
    api.run("createLBHealthCheckPolicy", lbruleid=lb["id"])
    api.run("deleteLoadBalancerRule", id=lb["id"])
    assert api("listLBHealthCheckPolicies", lbruleid=lb["id"]) == {}


def test_other_accounts_can_not_touch_policies(server: Any) -> None:
    api = server.api
    env = _setup(server)
    lb = _lb(api, env)
    pol = api.run("createLBStickinessPolicy", lbruleid=lb["id"], name="s", methodname="SourceBased")
    pid = pol["stickinesspolicies"]["stickinesspolicy"][0]["id"]
    other = api.client_for(api.new_account())
    for cmd, params in (("deleteLBStickinessPolicy", {"id": pid}), ("listLBStickinessPolicies", {"id": pid}),
                        ("createLBStickinessPolicy", {"lbruleid": lb["id"], "name": "x", "methodname": "LbCookie"}),
                        ("updateLBStickinessPolicy", {"id": pid, "customid": "0c2e7c66-5b1e-4c4d-9f0a-222222222222"})):
        status, _ = other.error(cmd, **params)
        assert status == 531, cmd
    status, err = api.client_for(api.new_account(accounttype=2)).error("updateLBStickinessPolicy", id=pid,
                                                                       customid="x")
    assert status == 531
