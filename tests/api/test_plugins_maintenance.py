"""Management server maintenance and shutdown (plugins/maintenance): a server preparing to shut down accepts no
new async job, becomes ReadyToShutDown once its jobs are done, and triggerShutdown stops the process (a real
served process here; an in-process test server only records the state)."""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient, InProcess, Served, wait_for

pytestmark = pytest.mark.api


def test_prepare_and_cancel_shutdown(api: ApiClient, server: InProcess) -> None:
    msid = server.server.runtime.msid
    ready = api("readyForShutdown", managementserverid=msid)["readyforshutdown"]
    assert ready["state"] == "Up" and ready["shutdowntriggered"] is False and ready["maintenanceinitiated"] is False
    prep = api("prepareForShutdown", managementserverid=msid)["prepareforshutdown"]
    assert prep["state"] == "PreparingForShutDown" and prep["shutdowntriggered"] is True

    status, err = api.error("createTags", resourceids="x", resourcetype="UserVm",
                            **{"tags[0].key": "a", "tags[0].value": "b"})
    assert (status, err["errortext"]) == (530, "A shutdown has been triggered. Can not accept new jobs")
    assert api("listZones") is not None  # synchronous commands still run

    done = wait_for(lambda: (r := api("readyForShutdown", managementserverid=msid)["readyforshutdown"])["state"]
                    == "ReadyToShutDown" and r, what="ReadyToShutDown")
    assert done["readyforshutdown"] is True and done["pendingjobscount"] == 0
    status, err = api.error("prepareForShutdown", managementserverid=msid)
    assert (status, err["errortext"]) == (530, "Management server is not in the right state to prepare for "
                                               "shutdown")
    assert api("cancelShutdown", managementserverid=msid)["cancelshutdown"]["state"] == "Up"
    status, err = api.error("cancelShutdown", managementserverid=msid)
    assert err["errortext"] == "Management server is not in the right state to cancel shutdown"
    assert api.run("createTags", resourceids=api("listUsers")["user"][0]["id"], resourcetype="User",
                   **{"tags[0].key": "a", "tags[0].value": "b"}) == {"success": True}


def test_maintenance_needs_another_server(api: ApiClient, server: InProcess) -> None:
    msid = server.server.runtime.msid
    status, err = api.error("prepareForMaintenance", managementserverid=msid)
    assert (status, err["errortext"]) == (530, "Prepare for maintenance not supported, there is only one active "
                                               "management server")
    status, err = api.error("cancelMaintenance", managementserverid=msid)
    assert err["errortext"] == "Management server is not in the right state to cancel maintenance"
    status, err = api.error("readyForShutdown", managementserverid="0000nothere")
    assert (status, err["errortext"]) == (431, "Unable to find the management server")


def test_trigger_shutdown_in_process_is_recorded_only(api: ApiClient, server: InProcess) -> None:
    msid = server.server.runtime.msid
    out = api("triggerShutdown", managementserverid=msid)["triggershutdown"]
    assert out["state"] == "ShuttingDown" and out["shutdowntriggered"] is True
    assert api("listZones") is not None  # no shutdown hook in a test server: it keeps answering


def test_trigger_shutdown_stops_a_served_server(served: Served) -> None:
    api = served.client()
    msid = api("listManagementServersMetrics")["managementserver"][0]["id"]
    api("prepareForShutdown", managementserverid=msid)
    wait_for(lambda: api("readyForShutdown", managementserverid=msid)["readyforshutdown"]["readyforshutdown"],
             what="ready for shutdown")
    assert api("triggerShutdown", managementserverid=msid)["triggershutdown"]["state"] == "ShuttingDown"
    wait_for(lambda: served.proc.poll() is not None, timeout=30, what="the server process to exit")
    assert served.proc.returncode == 0
