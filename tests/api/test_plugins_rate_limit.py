"""API rate limits (plugins/api/rate-limit): api.throttling.enabled/interval/max per account, CloudStack's 429
text, root admins never limited; getApiLimit and resetApiLimit."""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient

pytestmark = pytest.mark.api


def test_limit_commands_need_throttling_enabled(api: ApiClient) -> None:
    status, err = api.error("getApiLimit")
    assert (status, err["errortext"]) == (432, "This api is only available when api.throttling.enabled = true.")
    status, err = api.error("resetApiLimit")
    assert status == 432


def test_an_account_over_its_limit_gets_429_until_reset(api: ApiClient) -> None:
    user = api.new_account(name="chatty")
    ua = api.client_for(user)
    api("updateConfiguration", name="api.throttling.max", value="3")
    api("updateConfiguration", name="api.throttling.interval", value="3600")  # no reset while the test runs
    api("updateConfiguration", name="api.throttling.enabled", value="true")
    for _ in range(3):
        ua("listZones")
    r = ua.call("listZones")
    assert r.status_code == 429
    body = r.json()["listzonesresponse"]
    assert body["errorcode"] == 429 and body["cserrorcode"] == 9999
    assert body["errortext"].startswith("The given user has reached his/her account api limit, please retry after [")
    assert body["errortext"].endswith("] ms.")

    for _ in range(5):  # the root admin is never limited
        api("listZones")
    limit = api("getApiLimit")["apilimit"]
    assert limit["account"] == "admin" and limit["apiIssued"] == 0 and limit["apiAllowed"] == 3

    assert api("resetApiLimit", account=user["id"]) == {"success": True}
    assert ua("getApiLimit")["apilimit"]["apiIssued"] == 1  # this very call
    ua("listZones")
    assert ua.call("listZones").status_code == 200
    assert ua.call("listZones").status_code == 429
