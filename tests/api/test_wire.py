"""The wire contract (cloudstack-api.md §1-2, Appendix A) through the real ASGI apps, on every DB backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest

from tests.conftest import ApiClient, sign_params

pytestmark = pytest.mark.api

UNAUTH = "unable to verify user credentials and/or request signature"


def test_get_and_post_form_give_the_same_answer(api: ApiClient) -> None:
    get = api.call("listDomains", method="GET")
    post = api.call("listDomains", method="POST")
    assert get.status_code == post.status_code == 200
    assert get.json() == post.json()
    assert get.headers["content-type"].startswith("application/json")
    assert get.json()["listdomainsresponse"]["domain"][0]["name"] == "ROOT"


def test_post_merges_query_string_and_body(api: ApiClient) -> None:
    p = api.params_for("listDomains", None, {"name": "ROOT"})
    body = {k: v for k, v in p.items() if k not in ("command", "response")}
    r = api.http.post("/client/api?command=listDomains&response=json", content=urlencode(body),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    # The signature covers every parameter wherever it was sent.
    assert r.status_code == 200, r.text
    assert r.json()["listdomainsresponse"]["count"] == 1


def test_xml_is_the_default_format(api: ApiClient) -> None:
    r = api.call("listDomains", response=None)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(r.content)
    assert root.tag == "listdomainsresponse"
    assert root.findtext("domain/name") == "ROOT"


def test_json_body_is_one_line_with_one_key(api: ApiClient) -> None:
    r = api.call("listApis")
    assert r.status_code == 200
    assert b"\n" not in r.content.strip()
    assert list(r.json()) == ["listapisresponse"]


def test_unknown_command_is_401_on_the_signed_port(api: ApiClient) -> None:
    r = api.call("frobnicateEverything")
    assert r.status_code == 401
    assert r.json() == {"errorresponse": {"uuidList": [], "errorcode": 401, "errortext": UNAUTH}}


def test_unknown_command_is_432_on_the_integration_port(api: ApiClient) -> None:
    r = api.integration_api.call("frobnicateEverything")
    assert r.status_code == 432
    body = r.json()["errorresponse"]
    assert body["errorcode"] == 432 and body["errortext"] == "Unknown API command: frobnicateEverything"


def test_integration_port_answers_on_any_path(api: ApiClient) -> None:
    r = api.integration_api.http.get("/whatever/path", params={"command": "listDomains", "response": "json"})
    assert r.status_code == 200 and r.json()["listdomainsresponse"]["count"] >= 1


@pytest.mark.parametrize("case", ["no-signature", "bad-signature", "unknown-key", "no-credentials"])
def test_bad_credentials_are_401(api: ApiClient, case: str) -> None:
    p: dict[str, Any] = {"command": "listDomains", "response": "json"}
    if case != "no-credentials":
        p["apiKey"] = "nosuchkey" if case == "unknown-key" else api.apikey
        if case != "no-signature":
            p["signature"] = sign_params(p, "wrong" if case == "bad-signature" else api.secret or "")
    r = api.http.get("/client/api", params=p)
    assert r.status_code == 401
    (inner,) = r.json().values()
    assert inner["errorcode"] == 401


def test_missing_parameter_is_431(api: ApiClient) -> None:
    status, err = api.error("createDomain")
    assert status == 431
    assert err["errortext"] == "Unable to execute API command createdomain due to missing parameter name"
    assert err["cserrorcode"] == 9999 and err["uuidList"] == []
    r = api.call("createDomain")
    assert list(r.json()) == ["createdomainresponse"]


def test_invalid_value_is_431(api: ApiClient) -> None:
    status, err = api.error("listDomains", page="abc", pagesize=10)
    assert status == 431 and "invalid value" in err["errortext"]


def test_parameter_names_are_case_insensitive(api: ApiClient) -> None:
    root = api("listDomains", name="ROOT")["domain"][0]
    assert api("listDomains", Id=root["id"])["domain"][0]["id"] == root["id"]


def test_parameter_with_control_characters_is_431(api: ApiClient) -> None:
    status, _ = api.error("createDomain", name="bad\x01name")
    assert status == 431


# ---- paging ------------------------------------------------------------------------------------------------------

@pytest.fixture
def many_domains(api: ApiClient) -> dict[str, Any]:
    parent = api("createDomain", name="pages")["domain"]
    names = [f"d{i:02d}" for i in range(7)]
    for n in names:
        api("createDomain", name=n, parentdomainid=parent["id"])
    return {"parent": parent, "names": names}


def test_paging_rules(api: ApiClient, many_domains: dict[str, Any]) -> None:
    pid = many_domains["parent"]["id"]
    status, err = api.error("listDomainChildren", id=pid, pagesize=3)
    assert status == 431 and err["errortext"] == '"page" parameter is required when "pagesize" is specified'
    status, _ = api.error("listDomainChildren", id=pid, page=1, pagesize=501)
    assert status == 431
    status, _ = api.error("listDomainChildren", id=pid, page=1, pagesize=-1)
    assert status == 431
    everything = api("listDomainChildren", id=pid, pagesize=-1)
    assert everything["count"] == 7 and len(everything["domain"]) == 7
    assert api("listDomainChildren", id=pid, page=1, pagesize=500)["count"] == 7


def test_count_is_the_total_and_pages_are_stable(api: ApiClient, many_domains: dict[str, Any]) -> None:
    pid = many_domains["parent"]["id"]
    seen: list[str] = []
    for page in (1, 2, 3):
        body = api("listDomainChildren", id=pid, page=page, pagesize=3)
        assert body["count"] == 7  # total matching rows, never the page length
        seen += [d["id"] for d in body["domain"]]
    assert len(seen) == len(set(seen)) == 7
    again = [d["id"] for p in (1, 2, 3) for d in api("listDomainChildren", id=pid, page=p, pagesize=3)["domain"]]
    assert again == seen
    assert api("listDomainChildren", id=pid, page=4, pagesize=3) == {"count": 7}


def test_empty_list_is_an_empty_object(api: ApiClient) -> None:
    assert api("listDomains", keyword="no-such-domain-anywhere") == {}
    assert api("listAccounts", name="no-such-account") == {}


def test_empty_zone_list_keeps_its_key_for_libcloud(api: ApiClient) -> None:
    # The one deliberate exception to {}: libcloud's list_locations() (a bare listZones) indexes ["zone"];
    # a filtered lookup (what Ansible's cs_zone sends) stays {} because cs_zone indexes ["zone"][0].
    assert api("listZones") == {"count": 0, "zone": []}
    assert api("listZones", name="no-such-zone") == {}


def test_keyword(api: ApiClient, many_domains: dict[str, Any]) -> None:
    body = api("listDomains", keyword="d0", listall=True)
    names = {d["name"] for d in body["domain"]}
    assert names == set(many_domains["names"])
    assert api("listDomainChildren", id=many_domains["parent"]["id"], keyword="d03")["count"] == 1


# ---- signature v3 ------------------------------------------------------------------------------------------------

def _v3(api: ApiClient, expires: datetime, fmt: str = "%Y-%m-%dT%H:%M:%S%z") -> dict[str, str]:
    p = {"command": "listDomains", "response": "json", "apiKey": api.apikey or "", "signatureVersion": "3",
         "expires": expires.strftime(fmt)}
    p["signature"] = sign_params(p, api.secret or "")
    return p


def test_v3_future_expires_is_accepted(api: ApiClient) -> None:
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ"):
        r = api.http.get("/client/api", params=_v3(api, datetime.now(UTC) + timedelta(minutes=10), fmt))
        assert r.status_code == 200, r.text


def test_v3_expired_request_is_401_in_the_envelope(api: ApiClient) -> None:
    r = api.http.get("/client/api", params=_v3(api, datetime.now(UTC) - timedelta(seconds=5)))
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert len(body) == 1
    (inner,) = body.values()
    assert inner["errorcode"] == 401 and inner["errortext"]


def test_v3_without_expires_is_401(api: ApiClient) -> None:
    p = {"command": "listDomains", "response": "json", "apiKey": api.apikey or "", "signatureVersion": "3"}
    p["signature"] = sign_params(p, api.secret or "")
    assert api.http.get("/client/api", params=p).status_code == 401


# ---- sessions ----------------------------------------------------------------------------------------------------

def _login(api: ApiClient, username: str, password: str, domain: str = "/") -> tuple[dict[str, Any], str]:
    anon = api.anonymous()
    anon.http.cookies.clear()
    r = anon.call("login", method="POST", username=username, password=password, domain=domain)
    assert r.status_code == 200, r.text
    body = r.json()["loginresponse"]
    assert all(isinstance(v, str) for v in body.values()), body  # LoginCmdResponse: every value is a string
    assert r.cookies.get("sessionkey") == body["sessionkey"]
    return body, body["sessionkey"]


def test_login_needs_cookie_and_parameter(server: Any, api: ApiClient) -> None:
    admin = server.admin
    body, key = _login(api, admin["username"], admin["password"])
    assert body["username"] == admin["username"] and body["type"] == "1"
    anon = api.anonymous()
    ok = anon.call("listDomains", sessionkey=key, cookies={"sessionkey": key})
    assert ok.status_code == 200 and ok.json()["listdomainsresponse"]["count"] >= 1
    # CookieAndParameter (the default): one without the other is refused.
    assert anon.call("listDomains", sessionkey=key, cookies={}).status_code == 401
    assert anon.call("listDomains", cookies={"sessionkey": key}).status_code == 401
    assert anon.call("listDomains", sessionkey=key, cookies={"sessionkey": "other"}).status_code == 401
    out = anon.call("logout", sessionkey=key, cookies={"sessionkey": key})
    assert out.status_code == 200 and out.json() == {"logoutresponse": {"description": "success"}}
    assert anon.call("listDomains", sessionkey=key, cookies={"sessionkey": key}).status_code == 401


def test_login_with_wrong_password_is_401(server: Any, api: ApiClient) -> None:
    r = api.anonymous().call("login", method="POST", username=server.admin["username"], password="nope")
    assert r.status_code == 401
    assert r.json()["loginresponse"]["errorcode"] == 401


def test_login_for_a_user_in_a_child_domain(api: ApiClient) -> None:
    dom = api("createDomain", name="sessions")["domain"]
    acct = api.new_account(domainid=dom["id"], name="sessuser", password="s3cret")
    body, key = _login(api, "sessuser", "s3cret", domain="/sessions")
    assert body["account"] == "sessuser" and body["domainid"] == dom["id"] and body["type"] == "0"
    r = api.anonymous().call("listAccounts", sessionkey=key, cookies={"sessionkey": key})
    assert [a["id"] for a in r.json()["listaccountsresponse"]["account"]] == [acct["id"]]


# ---- integration port = SYSTEM (Marvin bootstrap) ---------------------------------------------------------------

def test_integration_port_bootstrap(server: Any, api: ApiClient) -> None:
    i = api.integration_api
    users = i("listUsers", account="admin")["user"]
    admin = next(u for u in users if u["username"] == server.admin["username"])
    keys = i("getUserKeys", id=admin["id"])["userkeys"]
    assert keys == {"apikey": server.admin["apikey"], "secretkey": server.admin["secretkey"]}
    # registerUserKeys on 8096 gives new working keys.
    new = i("registerUserKeys", id=admin["id"])["userkeys"]
    assert new["apikey"] != keys["apikey"]
    assert api.as_user(new["apikey"], new["secretkey"])("listDomains")["count"] >= 1
    assert api.call("listDomains").status_code == 401  # the old keys are gone


# ---- discovery ---------------------------------------------------------------------------------------------------

def test_listapis_live_shape(api: ApiClient) -> None:
    body = api("listApis")
    assert body["count"] == len(body["api"]) > 10
    for entry in body["api"]:
        assert isinstance(entry["name"], str) and isinstance(entry["isasync"], bool)
        assert isinstance(entry["description"], str)
        for p in entry["params"]:
            assert isinstance(p["required"], bool) and isinstance(p["description"], str), p
            assert isinstance(p["type"], str) and isinstance(p["name"], str)
    one = api("listApis", name="createTags")
    assert one["count"] == 1 and one["api"][0]["isasync"] is True
    # XML and JSON agree on the count.
    xml = ElementTree.fromstring(api.call("listApis", response="xml").content)
    assert xml.findtext("count") == str(body["count"])


def test_listcapabilities(api: ApiClient) -> None:
    cap = api("listCapabilities")["capability"]
    assert cap["cloudstackversion"].startswith("4.")
    assert isinstance(cap["securitygroupsenabled"], bool)
    assert isinstance(cap["apilimitmax"], int)
    json.dumps(cap)
