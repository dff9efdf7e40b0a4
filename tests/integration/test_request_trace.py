"""One request id from the client to the libvirt call: a deploy that fails on the host (its template's qcow2
backing file is missing, so libvirt cannot clone the root disk) is followed by the id the client sent in
X-Request-Id — in the job's error text, the access log, the job record and the driver's log line, all read from
a real `devcloud-management serve --log-format json` (DEVCLOUD_LOG_FORMAT) against this machine's libvirtd."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from tests.conftest import start_served
from tests.integration.test_kvm_api import URI, Cloud, _skip_reason, _teardown, new_workdir, wait_for, zone_spec

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("kvm-cloud")]  # the public range of test_kvm_api
_reason = _skip_reason()
if _reason:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=_reason)]


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    """A served instance with a JSON log, this machine as its KVM host, and no guest image at all."""
    from appliance.client import CloudClient
    from appliance.deploy import Deployer

    workdir, tag, pool_dir, store_dir, console, state = new_workdir("test-request-trace.")
    bridges_before = set(os.listdir("/sys/class/net"))
    conn = libvirt.open(URI)
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}",
                          extra_env={"DEVCLOUD_CONSOLE_LOG_DIR": str(console), "DEVCLOUD_LOG_FORMAT": "json"})
    cloud: Cloud | None = None
    try:
        client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.1, job_timeout=120)
        try:
            Deployer(client).deploy(zone_spec(tag, pool_dir, store_dir))
        finally:
            client.close()
        api = served.client()
        zone = api("listZones", name=f"kvm-{tag}")["zone"][0]
        bad = workdir / "broken.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b",
                        str(workdir / "no-such-backing.qcow2"), str(bad), "64M"], check=True)
        tmpl = api("registerTemplate", name=f"broken-{tag}", displaytext="broken", url=f"file://{bad}",
                   format="QCOW2", hypervisor="KVM", zoneid=zone["id"])["template"][0]
        wait_for(lambda: api("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"], 60,
                 "the broken template to download")
        so = api("listServiceOfferings", name=f"tiny-{tag}")["serviceoffering"][0]
        do = api("listDiskOfferings", name="Small")["diskoffering"][0]
        cloud = Cloud(served, conn, workdir, console, zone, tmpl, so, do, "", workdir / "no-key", pool_dir,
                      store_dir)
        yield cloud
    finally:
        _teardown(cloud, served, conn, bridges_before, workdir)


def log_records(cloud: Cloud) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cloud.served.log_path.read_text().splitlines() if line.startswith("{")]


def test_a_failed_deploy_is_followed_by_one_request_id_to_the_libvirt_call(cloud: Cloud) -> None:
    rid = "deploy-" + secrets.token_hex(6)
    api = cloud.api
    r = api.http.get("/client/api", headers={"X-Request-Id": rid}, params=api.params_for(
        "deployVirtualMachine", None, {"zoneid": cloud.zone["id"], "templateid": cloud.template["id"],
                                       "serviceofferingid": cloud.offering["id"]}))
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == rid
    started = r.json()["deployvirtualmachineresponse"]
    cloud.vms.append(started["id"])
    job = api.wait(started["jobid"], timeout=180)

    # the client's error: the host's failure and the id to look it up by
    assert job["jobstatus"] == 2, job
    text = job["jobresult"]["errortext"]
    assert job["jobresult"]["errorcode"] == 530 and "Unable to start VM instance" in text, text
    assert "no-such-backing" in text and text.endswith(f"(request id {rid})"), text

    # the job record
    with sqlite3.connect(cloud.served.state_dir / "devcloud.db") as db:
        assert db.execute("SELECT request_id, status FROM async_job WHERE uuid = ?",
                          (started["jobid"],)).fetchone() == (rid, 2)

    # the access line of the request, then the libvirt call the job made under the same id
    def traced() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        mine = [x for x in log_records(cloud) if x.get("request_id") == rid]
        access = [x for x in mine if x["logger"] == "devcloud.access"]
        driver = [x for x in mine if x["logger"] == "devcloud.driver" and x["level"] == "WARNING"]
        return (access, driver) if access and driver else None

    access, driver = wait_for(traced, 10, f"the access and driver lines of request {rid}")
    assert len(access) == 1, access
    line = access[0]
    assert (line["port"], line["method"], line["path"], line["status"], line["command"], line["account"]) == \
        ("api", "GET", "/client/api", 200, "deployVirtualMachine", "admin"), line
    assert any(d["message"].startswith("libvirt ") and "no-such-backing" in d["message"]
               and d["job_id"] == started["jobid"] and d["command"] == "deployVirtualMachine"
               and d["outcome"] == "error" for d in driver), driver
    done = [x for x in log_records(cloud) if x.get("job_id") == started["jobid"] and x.get("outcome") == "failed"]
    assert [x["request_id"] for x in done] == [rid], done
