"""getVMPassword: the password of a VM from a password-enabled template with a key pair, readable with the key
pair's private key; refused for a VM without one."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api

NONE = ("No password for VM with specified id found. If VM is created from password enabled template and SSH "
        "keypair is assigned to VM then only password can be retrieved.")


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


def test_vm_password(api: ApiClient, zone: dict[str, Any]) -> None:
    owner = api.new_account(name="pwd-owner")
    ua = api.client_for(owner)
    kp = ua("createSSHKeyPair", name="k1")["keypair"]
    plain = deploy(ua, zone)
    status, err = ua.error("getVMPassword", id=plain["id"])
    assert (status, err["errortext"]) == (431, NONE)  # no key pair, and the template is not password enabled

    api("updateTemplate", id=zone["template"], passwordenabled=True)
    try:
        vm = deploy(ua, zone, keypair="k1")
    finally:
        api("updateTemplate", id=zone["template"], passwordenabled=False)
    assert vm["passwordenabled"] is True and vm["password"]
    enc = ua("getVMPassword", id=vm["id"])["password"]["encryptedpassword"]
    key = load_pem_private_key(kp["privatekey"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.decrypt(base64.b64decode(enc), padding.PKCS1v15()).decode() == vm["password"]

    other = api.client_for(api.new_account(name="pwd-other"))
    assert other.error("getVMPassword", id=vm["id"])[0] == 531
