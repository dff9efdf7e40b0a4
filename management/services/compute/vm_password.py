"""getVMPassword: the password of a VM deployed from a password-enabled template with an SSH key pair, encrypted
with that key pair's public key (RSA, PKCS#1 v1.5, base64) so that only the key's owner can read it — the form
CloudStack stores and hands out (`cloudmonkey`/the UI decrypt it with the private key)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.compute import SSHKeyPair, VirtualMachine

_NONE = ("No password for VM with specified id found. If VM is created from password enabled template and SSH "
         "keypair is assigned to VM then only password can be retrieved.")


def encrypted_password(s: Session, vm: VirtualMachine) -> str:
    # a VM has a password when its template was password enabled at deploy (or it was reset since)
    names = [n for n in (vm.keypairs or "").split(",") if n]
    password = vm.password
    if not password or not names:
        raise ParamError(_NONE)
    pair = s.scalar(select(SSHKeyPair).where(SSHKeyPair.account_id == vm.account_id, SSHKeyPair.name == names[0]))
    if pair is None:
        raise ParamError(_NONE)
    key = load_ssh_public_key(pair.public_key.encode())
    if not isinstance(key, rsa.RSAPublicKey):  # CloudStack encrypts with RSA keys only
        raise ParamError(_NONE)
    return base64.b64encode(key.encrypt(password.encode(), padding.PKCS1v15())).decode()
