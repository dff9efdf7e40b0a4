"""SSH key pairs: create (private key once), register, list, delete, reset on a VM, fingerprints."""

from __future__ import annotations

import base64
import hashlib
import subprocess
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


def _md5(pub: str) -> str:
    d = hashlib.md5(base64.b64decode(pub.split()[1])).hexdigest()  # noqa: S324
    return ":".join(d[i:i + 2] for i in range(0, 32, 2))


def test_create_register_list_delete(api: ApiClient, tmp_path: Path) -> None:
    kp = api("createSSHKeyPair", name="k1")["keypair"]
    assert kp["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert len(kp["fingerprint"].split(":")) == 16
    key = tmp_path / "k"
    key.write_text(kp["privatekey"])
    key.chmod(0o600)
    pub = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], check=True, capture_output=True, text=True).stdout
    assert _md5(pub) == kp["fingerprint"]
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "e")], check=True)
    epub = (tmp_path / "e.pub").read_text().strip()
    reg = api("registerSSHKeyPair", name="k2", publickey=epub)["keypair"]
    assert reg["fingerprint"] == _md5(epub) and "privatekey" not in reg
    listed = api("listSSHKeyPairs")["sshkeypair"]
    assert {k["name"] for k in listed} >= {"k1", "k2"}
    assert api("listSSHKeyPairs", name="k2")["sshkeypair"][0]["fingerprint"] == reg["fingerprint"]
    status, err = api.error("registerSSHKeyPair", name="k3", publickey=epub)
    assert status == 431 and "already exists" in err["errortext"]
    status, _ = api.error("registerSSHKeyPair", name="k4", publickey="ssh-rsa not-base64!")
    assert status == 431
    status, _ = api.error("createSSHKeyPair", name="k1")
    assert status == 431
    assert api("deleteSSHKeyPair", name="k2")["success"] is True
    status, _ = api.error("deleteSSHKeyPair", name="k2")
    assert status == 431


def test_deploy_with_keypair_and_reset(api: ApiClient, zone: dict[str, Any]) -> None:
    api("createSSHKeyPair", name="a")
    api("createSSHKeyPair", name="b")
    vm = deploy(api, zone, keypair="a")
    assert vm["keypairs"] == "a"
    key = "resetSSHKeyforvirtualmachineresponse"
    job = api.wait(api.call("resetSSHKeyForVirtualMachine", id=vm["id"], keypair="b").json()[key]["jobid"])
    assert job["jobstatus"] == 2  # must be Stopped
    api.run("stopVirtualMachine", id=vm["id"])
    r = api.call("resetSSHKeyForVirtualMachine", id=vm["id"], keypair="b")
    assert list(r.json()) == [key]
    job = api.wait(r.json()[key]["jobid"])
    assert job["jobresult"]["virtualmachine"]["keypairs"] == "b"
    status, err = api.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                            templateid=zone["template"], keypair="nope")
    assert status == 431 and err["errortext"] == "Not all specified keyparis exist"  # sic, CloudStack's text
