"""The smaller tenancy surfaces: instance groups, registered user data, regions, alerts, catalogues (settings, guest
OS types and mappings, OS categories), hypervisor capabilities, listInfrastructure, account extras."""

from __future__ import annotations

import base64
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


def test_instance_groups(api: ApiClient, zone: dict[str, Any]) -> None:
    user = api.new_account(name="grouper")
    u = api.client_for(user)
    g = u("createInstanceGroup", name="web")["instancegroup"]
    assert (g["name"], g["account"]) == ("web", "grouper")
    assert u.error("createInstanceGroup", name="WEB")[0] == 431
    vm = deploy(u, zone, group="web")
    assert vm["group"] == "web" and vm["groupid"] == g["id"]
    assert [v["id"] for v in u("listVirtualMachines", groupid=g["id"])["virtualmachine"]] == [vm["id"]]
    renamed = u("updateInstanceGroup", id=g["id"], name="front")["instancegroup"]
    assert renamed["name"] == "front"
    assert u("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["group"] == "front"
    assert u("deleteInstanceGroup", id=g["id"])["success"] is True
    assert u("listInstanceGroups") == {}
    assert "group" not in u("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
    other = api.client_for(api.new_account())
    assert other("listInstanceGroups", listall=True) == {}


def test_registered_user_data(api: ApiClient, zone: dict[str, Any]) -> None:
    user = api.new_account(name="ud-user")
    u = api.client_for(user)
    text = base64.b64encode(b"#cloud-config\nhostname: {{ ds.meta_data.name }}\n").decode()
    ud = u("registerUserData", {"name": "ud1", "userdata": text, "params": "name"})["userdata"]
    assert (ud["name"], ud["userdata"], ud["params"], ud["account"]) == ("ud1", text, "name", "ud-user")
    assert u.error("registerUserData", name="ud1", userdata=text)[0] == 431
    assert [x["id"] for x in u("listUserData")["userdata"]] == [ud["id"]]
    status, err = u.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                          templateid=zone["template"], userdataid=ud["id"])
    assert status == 431 and "name" in err["errortext"]
    vm = deploy(u, zone, userdataid=ud["id"], **{"userdatadetails[0].name": "web1"})
    assert vm["userdataid"] == ud["id"] and vm["userdataname"] == "ud1"
    got = u("getVirtualMachineUserData", virtualmachineid=vm["id"])["virtualmachineuserdata"]
    assert got["userdata"] == text
    assert u.error("deleteUserData", id=ud["id"])[0] == 536
    tmpl = api("linkUserDataToTemplate", templateid=zone["template"], userdataid=ud["id"],
               userdatapolicy="denyoverride")["template"]
    assert tmpl["id"] == zone["template"]
    api("linkUserDataToTemplate", templateid=zone["template"])  # unlink
    u.run("stopVirtualMachine", id=vm["id"])
    other = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    reset = u("resetUserDataForVirtualMachine", id=vm["id"], userdata=other)["virtualmachine"]
    assert "userdataid" not in reset
    assert u("getVirtualMachineUserData", virtualmachineid=vm["id"])["virtualmachineuserdata"]["userdata"] == other
    assert u("deleteUserData", id=ud["id"])["success"] is True
    assert u("listUserData") == {}


def test_regions(api: ApiClient) -> None:
    assert api("listRegions")["region"] == [{"id": 1, "name": "Local", "endpoint": "http://localhost:8080/client/",
                                            "gslbserviceenabled": True, "portableipserviceenabled": False}]
    r = api("addRegion", id=2, name="Remote", endpoint="http://remote:8080/client/")["region"]
    assert r["id"] == 2 and api("listRegions")["count"] == 2
    assert api.error("addRegion", id=2, name="Again", endpoint="x")[0] == 431
    assert api("updateRegion", id=2, name="Far")["region"]["name"] == "Far"
    assert api("removeRegion", id=2)["success"] is True
    assert [x["name"] for x in api("listRegions")["region"]] == ["Local"]


def test_alerts(api: ApiClient, server: InProcess, zone: dict[str, Any]) -> None:
    from sqlalchemy import select

    from management.models.infra import Host
    from management.services.infra import hosts
    from management.services.platform import alerts

    types = {t["alerttypeid"]: t["name"] for t in api("listAlertTypes")["alerttype"]}
    assert types[7] == "ALERT.COMPUTE.HOST" and types[0] == "ALERT.MEMORY"
    api.run("generateAlert", type=101, name="custom", description="something happened")
    assert api.wait(api("generateAlert", type=3, name="x", description="y")["jobid"])["jobresult"]["errorcode"] == 431
    with server.server.runtime.db.session() as s:  # a host stops answering: the monitor marks it Disconnected
        host = s.scalar(select(Host).where(Host.uuid == zone["hosts"][0]))
        assert host is not None
        hosts.set_state(s, host, status="Disconnected")
    with server.server.runtime.db.session() as s:  # allocated capacity above the notification threshold
        s.execute(Host.__table__.update().where(Host.__table__.c.uuid.in_(zone["hosts"]))
                  .values(cpu_allocated=Host.__table__.c.cpus * Host.__table__.c.speed))
        alerts.check_capacity(s)
    listed = api("listAlerts")["alert"]
    names = {a["name"] for a in listed}
    assert {"custom", "ALERT.COMPUTE.HOST", "ALERT.CPU"} <= names, listed
    host_alert = next(a for a in listed if a["name"] == "ALERT.COMPUTE.HOST")
    assert host_alert["type"] == 7 and "disconnected" in host_alert["description"]
    assert api("archiveAlerts", ids=host_alert["id"])["success"] is True
    assert host_alert["id"] not in {a["id"] for a in api("listAlerts")["alert"]}
    assert api("deleteAlerts", type=101)["success"] is True
    assert "custom" not in {a["name"] for a in api("listAlerts").get("alert", [])}
    assert api.error("deleteAlerts")[0] == 431
    infra = api("listInfrastructure")["infrastructure"]
    assert infra["hosts"] >= 2 and infra["zones"] >= 1 and infra["alerts"] >= 1


def test_settings_catalogue_and_scopes(api: ApiClient, zone: dict[str, Any]) -> None:
    listed = api("listConfigurations", pagesize=-1)
    assert listed["count"] >= 500
    ssl = api("listConfigurations", name="consoleproxy.sslEnabled")["configuration"][0]
    assert (ssl["value"], ssl["defaultvalue"], ssl["category"], ssl["isdynamic"]) == ("false", "false",
                                                                                       "Console Proxy", False)
    assert "does not act on it" in ssl["description"] and ssl["type"] == "Boolean"
    acted = api("listConfigurations", name="max.account.user.vms")["configuration"][0]
    assert acted["value"] == "20" and "does not act" not in acted["description"]
    user = api.new_account(name="scoped")
    dom = api("listDomains", name="ROOT")["domain"][0]
    a = api("updateConfiguration", name="allow.user.expunge.recover.vm", value="true",
            accountid=user["id"])["configuration"]
    assert (a["value"], a["scope"]) == ("true", "account")
    assert api("listConfigurations", name="allow.user.expunge.recover.vm", accountid=user["id"])[
        "configuration"][0]["value"] == "true"
    assert api("listConfigurations", name="allow.user.expunge.recover.vm")["configuration"][0]["value"] == "false"
    d = api("updateConfiguration", name="password.policy.minimum.length", value="8",
            domainid=dom["id"])["configuration"]
    assert (d["value"], d["scope"]) == ("8", "domain")
    pool = api("listStoragePools")["storagepool"][0]
    sp = api("updateConfiguration", name="storage.pool.disk.wait", value="90", storageid=pool["id"])["configuration"]
    assert (sp["value"], sp["scope"]) == ("90", "storagepool")
    reset = api("resetConfiguration", name="storage.pool.disk.wait", storageid=pool["id"])["configuration"]
    assert reset["value"] == "60"
    c = api("updateConfiguration", name="kvm.ha.fence.timeout", value="30", clusterid=zone["cluster"])
    assert c["configuration"]["value"] == "30"
    status, err = api.error("updateConfiguration", name="consoleproxy.sslEnabled", value="maybe")
    assert status == 431
    for odd in ("nan", "inf", "-Infinity", "abc"):  # a number setting keeps its value
        status, err = api.error("updateConfiguration", name="storage.pool.disk.wait", value=odd)
        assert status == 431 and "a number is expected" in err["errortext"], err
    assert api("listConfigurations", name="storage.pool.disk.wait")["configuration"][0]["value"] == "60"
    api("updateConfiguration", name="default.ui.page.size", value="50")
    assert api("resetConfiguration", name="default.ui.page.size")["configuration"]["value"] == "20"
    assert api.error("updateConfiguration", name="max.account.user.vms", value="1", domainid=dom["id"])[0] == 431
    groups = {g["name"] for g in api("listConfigurationGroups")["configurationgroup"]}
    assert {"Account Defaults", "Alert", "Network"} <= groups


def test_guest_os_catalogue(api: ApiClient) -> None:
    assert api("listOsTypes")["count"] >= 200
    cats = {c["name"]: c["id"] for c in api("listOsCategories")["oscategory"]}
    assert {"CentOS", "Debian", "Ubuntu", "Windows"} <= set(cats)
    new_cat = api("addOsCategory", name="Plan9", isfeatured=True)["oscategory"]
    assert new_cat["isfeatured"] is True
    os_t = api.run("addGuestOs", oscategoryid=new_cat["id"], osdisplayname="Plan 9 4th edition")["ostype"]
    assert os_t["isuserdefined"] is True and os_t["oscategoryname"] == "Plan9"
    assert api.wait(api("addGuestOs", oscategoryid=new_cat["id"], osdisplayname="plan 9 4th edition")["jobid"])[
        "jobstatus"] == 2
    m = api.run("addGuestOsMapping", ostypeid=os_t["id"], hypervisor="KVM", hypervisorversion="default",
                osnameforhypervisor="plan9")["guestosmapping"]
    assert (m["osdisplayname"], m["osnameforhypervisor"], m["isuserdefined"]) == ("Plan 9 4th edition", "plan9",
                                                                                   "true")
    assert api("listGuestOsMapping", hypervisor="KVM")["count"] == 1
    api.run("updateGuestOsMapping", id=m["id"], osnameforhypervisor="plan9-4e")
    names = api.run("getHypervisorGuestOsNames", hypervisor="KVM", hypervisorversion="default")
    assert names["hypervisorguestosnames"]["guestoscount"] == 1
    assert api.error("deleteOsCategory", id=new_cat["id"])[0] == 536
    api.run("updateGuestOs", id=os_t["id"], osdisplayname="Plan 9 (4e)")
    api.run("removeGuestOsMapping", id=m["id"])
    api.run("removeGuestOs", id=os_t["id"])
    assert api("deleteOsCategory", id=new_cat["id"])["success"] is True


def test_capabilities_and_account_extras(api: ApiClient, zone: dict[str, Any]) -> None:
    caps = {c["hypervisor"]: c for c in api("listHypervisorCapabilities")["hypervisorCapabilities"]}
    assert caps["KVM"]["maxdatavolumeslimit"] == 24 and caps["Simulator"]["securitygroupenabled"] is True
    up = api("updateHypervisorCapabilities", id=caps["KVM"]["id"], maxguestslimit=99)["hypervisorcapabilities"]
    assert up["maxguestslimit"] == 99
    newv = api("updateHypervisorCapabilities", hypervisor="KVM", hypervisorversion="9.0",
               maxdatavolumeslimit=10)["hypervisorcapabilities"]
    assert (newv["hypervisorversion"], newv["maxdatavolumeslimit"], newv["maxguestslimit"]) == ("9.0", 10, 99)
    dadmin = api.new_account(accounttype=2, name="dadmin")
    assert api("isAccountAllowedToCreateOfferingsWithTags", id=dadmin["id"])[
        "isaccountallowedtocreateofferingswithtags"]["isallowed"] is False
    api("updateConfiguration", name="allow.domain.admins.to.create.tagged.offerings", value="true",
        accountid=dadmin["id"])
    assert api("isAccountAllowedToCreateOfferingsWithTags", id=dadmin["id"])[
        "isaccountallowedtocreateofferingswithtags"]["isallowed"] is True
    acct = api.run("markDefaultZoneForAccount", account="dadmin", domainid=dadmin["domainid"],
                   zoneid=zone["zone"])["account"]
    assert acct["defaultzoneid"] == zone["zone"]
