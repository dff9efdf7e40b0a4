"""upgradeRouterTemplate: devcloud's routers always run the current templates, so no reboot job is started; the
scope is checked as CloudStack checks it."""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient

pytestmark = pytest.mark.api


def test_upgrade_router_template(api: ApiClient) -> None:
    root = api("listDomains", name="ROOT")["domain"][0]["id"]
    zone = api("createZone", name="upgrade-zone", dns1="8.8.8.8", internaldns1="10.0.0.1",
               networktype="Advanced")["zone"]
    assert api("upgradeRouterTemplate", zoneid=zone["id"]) == {}
    assert api("upgradeRouterTemplate", domainid=root, account="admin") == {}
    assert api("upgradeRouterTemplate") == {}
    status, err = api.error("upgradeRouterTemplate", zoneid=zone["id"], domainid=root)
    assert (status, err["errortext"]) == (431, "Multiple parameters not supported. Specify only one among routerId/"
                                               "zoneId/podId/clusterId/accountId/domainId")
    status, err = api.error("upgradeRouterTemplate", domainid=root, account="nobody")
    assert status == 431 and err["errortext"].startswith("Account :nobody does not exist in domain: ")
    user = api.client_for(api.new_account(name="router-user"))
    assert user.error("upgradeRouterTemplate")[0] == 401
