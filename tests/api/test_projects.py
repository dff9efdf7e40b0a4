"""Projects: a project's resources belong to its project account; members see and use them by role, others don't;
project roles gate commands inside the project; suspend/activate/delete; invitations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


@pytest.fixture
def people(api: ApiClient) -> dict[str, Any]:
    dom = api("createDomain", name="prj")["domain"]
    owner = api.new_account(domainid=dom["id"], name="owner")
    member = api.new_account(domainid=dom["id"], name="member")
    outsider = api.new_account(domainid=dom["id"], name="outsider")
    return {"domain": dom, "owner": owner, "member": member, "outsider": outsider,
            "uo": api.client_for(owner), "um": api.client_for(member), "ux": api.client_for(outsider)}


def _ids(body: dict[str, Any], key: str) -> list[str]:
    return [x["id"] for x in body.get(key, [])]


def test_project_vm_visible_to_members_only(api: ApiClient, zone: dict[str, Any], people: dict[str, Any]) -> None:
    uo, um, ux = people["uo"], people["um"], people["ux"]
    prj = uo.run("createProject", name="p1", displaytext="first")["project"]
    assert prj["name"] == "p1" and prj["state"] == "Active"
    assert prj["owner"] == [{"account": "owner", "accountid": people["owner"]["id"]}]
    assert prj["projectaccountname"].startswith("PrjAcct-p1-")
    vm = deploy(uo, zone, projectid=prj["id"])
    assert vm["projectid"] == prj["id"] and vm["project"] == "p1"

    assert _ids(uo("listVirtualMachines", projectid=prj["id"]), "virtualmachine") == [vm["id"]]
    assert _ids(uo("listVirtualMachines", projectid="-1"), "virtualmachine") == [vm["id"]]
    # Without projectid CloudStack leaves project resources out, for users and admins alike.
    assert uo("listVirtualMachines") == {}
    assert vm["id"] not in _ids(api("listVirtualMachines", listall=True), "virtualmachine")
    assert _ids(api("listVirtualMachines", projectid=prj["id"]), "virtualmachine") == [vm["id"]]

    # Not a member yet: no listing, no access by id, no acting on it.
    status, err = um.error("listVirtualMachines", projectid=prj["id"])
    assert status == 531 and "can't access project" in err["errortext"]
    assert um.error("stopVirtualMachine", id=vm["id"])[0] == 531
    assert um("listProjects") == {}

    uo.run("addAccountToProject", projectid=prj["id"], account="member")
    assert _ids(um("listVirtualMachines", projectid=prj["id"]), "virtualmachine") == [vm["id"]]
    assert [p["id"] for p in um("listProjects")["project"]] == [prj["id"]]
    stopped = um.run("stopVirtualMachine", id=vm["id"])["virtualmachine"]
    assert stopped["state"] == "Stopped"
    roles = {a["account"]: a["role"] for a in uo("listProjectAccounts", projectid=prj["id"])["projectaccount"]}
    assert roles == {"owner": "Admin", "member": "Regular"}

    # A regular member can not manage the project; the outsider sees nothing at all.
    job = um("updateProject", id=prj["id"], displaytext="mine")
    assert job["jobid"] and um.wait(job["jobid"])["jobresult"]["errorcode"] == 531
    assert ux.error("listVirtualMachines", projectid=prj["id"])[0] == 531
    assert ux("listVirtualMachines", projectid="-1") == {}
    assert ux.error("listProjects", id=prj["id"])[0] == 531
    assert ux("listProjects", listall=True) == {}


def test_project_roles_suspend_and_delete(api: ApiClient, zone: dict[str, Any], people: dict[str, Any]) -> None:
    uo, um = people["uo"], people["um"]
    prj = uo.run("createProject", name="p2")["project"]
    role = uo("createProjectRole", projectid=prj["id"], name="readers")["projectrole"]
    uo("createProjectRolePermission", projectid=prj["id"], projectroleid=role["id"], rule="deploy*",
       permission="deny")
    uo.run("addAccountToProject", projectid=prj["id"], account="member", projectroleid=role["id"])
    status, err = um.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                           templateid=zone["template"], projectid=prj["id"])
    assert status == 531 and "project role" in err["errortext"]
    perms = uo("listProjectRolePermissions", projectid=prj["id"])["projectrolepermission"]
    assert [(x["rule"], x["permission"]) for x in perms] == [("deploy*", "deny")]

    vm = deploy(uo, zone, projectid=prj["id"])
    suspended = uo.run("suspendProject", id=prj["id"])["project"]
    assert suspended["state"] == "Suspended" and suspended["vmstopped"] == 1
    assert uo("listVirtualMachines", id=vm["id"], projectid=prj["id"])["virtualmachine"][0]["state"] == "Stopped"
    status, err = uo.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                           templateid=zone["template"], projectid=prj["id"])
    assert status == 531 and "no longer active" in err["errortext"]
    assert uo.run("activateProject", id=prj["id"])["project"]["state"] == "Active"

    job = uo.wait(uo("deleteProject", id=prj["id"])["jobid"])
    assert job["jobstatus"] == 2 and "still has resources" in job["jobresult"]["errortext"]
    uo.run("deleteProject", id=prj["id"], cleanup=True)
    assert uo("listProjects") == {}
    assert api("listVirtualMachines", projectid="-1", listall=True) == {}


def test_invitations_when_required(api: ApiClient, people: dict[str, Any]) -> None:
    uo, um = people["uo"], people["um"]
    api("updateConfiguration", name="project.invite.required", value="true")
    prj = uo.run("createProject", name="p3")["project"]
    uo.run("addAccountToProject", projectid=prj["id"], account="member")
    inv = um("listProjectInvitations")["projectinvitation"]
    assert [(i["project"], i["account"], i["state"]) for i in inv] == [("p3", "member", "Pending")]
    assert um("listProjects") == {}
    um.run("updateProjectInvitation", projectid=prj["id"], accept=True)
    assert [p["name"] for p in um("listProjects")["project"]] == ["p3"]
    assert um("listProjectInvitations", state="Completed")["count"] == 1


def test_cs_project_fields(api: ApiClient, people: dict[str, Any]) -> None:
    """What cs_project reads back: name, displaytext, state; updateProject is async and returns the project."""
    uo = people["uo"]
    prj = uo.run("createProject", name="p4", displaytext="four")["project"]
    updated = uo.run("updateProject", id=prj["id"], displaytext="FOUR")["project"]
    assert updated["displaytext"] == "FOUR" and updated["vmlimit"] == "20" and updated["vmtotal"] == 0
    r = uo.call("activateProject", id=prj["id"])
    assert "activaterojectresponse" in r.json()  # CloudStack's spelling of this one response name


def test_long_lists_still_name_the_project(api: ApiClient, people: dict[str, Any]) -> None:
    """A long list (more items than projects.LARGE_BODY, where decorate first asks whether any project exists)
    names the project on each of its objects, and a long list with no project in the cloud is left as it was."""
    from management.services.identity.projects import LARGE_BODY

    uo = people["uo"]
    for i in range(LARGE_BODY + 2):
        uo("createSSHKeyPair", name=f"own{i}")
    mine = uo("listSSHKeyPairs")["sshkeypair"]
    assert len(mine) == LARGE_BODY + 2 and not any("projectid" in k for k in mine)

    prj = uo.run("createProject", name="many", displaytext="many")["project"]
    for i in range(LARGE_BODY + 2):
        uo("createSSHKeyPair", name=f"k{i}", projectid=prj["id"])
    keys = uo("listSSHKeyPairs", projectid=prj["id"])["sshkeypair"]
    assert len(keys) == LARGE_BODY + 2
    assert {(k["projectid"], k["project"]) for k in keys} == {(prj["id"], "many")}
    assert not any("projectid" in k for k in uo("listSSHKeyPairs")["sshkeypair"])
