"""System VM lifecycle commands on a cloud that runs no system VM, and the deployment planners on offer."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ApiClient

pytestmark = pytest.mark.api

INVALID = ("Unable to execute API command due to invalid value. Invalid parameter id value={} due to incorrect "
           "long value format, or entity does not exist or due to incorrect parameter annotation for the field in "
           "api cmd class.")


def outcome(api: ApiClient, command: str, **params: str) -> tuple[int, str]:
    r = api.call(command, params)
    body = r.json()
    (inner,) = body.values()
    if r.status_code != 200:
        return r.status_code, inner["errortext"]
    job = api.wait(inner["jobid"])
    assert job["jobstatus"] == 2, job
    return job["jobresultcode"], job["jobresult"]["errortext"]


def test_system_vm_commands_find_no_system_vm(api: ApiClient) -> None:
    vm = str(uuid.uuid4())
    offering = api("listServiceOfferings")["serviceoffering"][0]["id"]
    for command, params in (("startSystemVm", {"id": vm}), ("stopSystemVm", {"id": vm, "forced": "true"}),
                            ("rebootSystemVm", {"id": vm}), ("destroySystemVm", {"id": vm}),
                            ("migrateSystemVm", {"virtualmachineid": vm}), ("patchSystemVm", {"id": vm}),
                            ("scaleSystemVm", {"id": vm, "serviceofferingid": offering}),
                            ("changeServiceForSystemVm", {"id": vm, "serviceofferingid": offering})):
        assert outcome(api, command, **params) == (431, INVALID.format(vm)), command
    assert api("listSystemVms") == {}
    code, text = outcome(api, "patchSystemVm")
    assert (code, text) == (431, "Please provide a valid ID of a system VM to be patched")
    bogus = str(uuid.uuid4())
    code, text = outcome(api, "scaleSystemVm", id=vm, serviceofferingid=bogus)  # the offering is checked first
    assert (code, text) == (431, INVALID.format(bogus))
    user = api.client_for(api.new_account(name="curious-sysvm"))
    assert user.error("startSystemVm", id=vm)[0] == 401


def test_deployment_planners(api: ApiClient) -> None:
    listed = api("listDeploymentPlanners")
    assert listed == {"count": 1, "deploymentPlanner": [{"name": "FirstFitPlanner"}]}
    assert api("listDeploymentPlanners", keyword="dispersing") == {}
    assert api.error("listDeploymentPlanners", page=0)[0] == 431
    user = api.client_for(api.new_account(name="planner-user"))
    assert user.error("listDeploymentPlanners")[0] == 401
