"""listManagementServers / removeManagementServer as an admin sees them (one in-process server)."""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


def test_list_and_remove_management_servers(server: InProcess, api: ApiClient) -> None:
    msid = server.server.runtime.msid
    found = api("listManagementServers", peers=True)
    assert found["count"] == 1
    ms = found["managementserver"][0]
    assert (ms["id"], ms["state"], ms["version"]) == (msid, "Up", "4.22.0.0")
    for key in ("name", "javadistribution", "javaversion", "osdistribution", "kernelversion", "lastserverstart",
                "serviceip", "ipaddress", "agentscount", "pendingjobscount"):
        assert key in ms, key
    assert "peers" not in ms or ms["peers"] == []
    assert api("listManagementServers", id="no-such-server") == {}

    status, err = api.error("removeManagementServer", id=msid)
    assert status == 431
    assert err["errortext"] == (f"Unable to remove Management Server with ID [{msid}]. It can only be removed when "
                                "it is in the [Down] state, however currently it is in the [Up] state.")
    status, err = api.error("removeManagementServer", id="no-such-server")
    assert status == 431 and "Unable to find a Management Server with ID" in err["errortext"]
    user = api.client_for(api.new_account())
    assert user.call("listManagementServers").status_code == 401
