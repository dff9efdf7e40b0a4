"""SSH key pairs: create (generated here, private key returned once), register, delete, fingerprints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InternalError, ParamError, logged
from management.models.compute import SSHKeyPair, VirtualMachine
from management.models.identity import Account

_KEY_TYPES = ("ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
              "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


def parse_public_key(text: str) -> tuple[str, bytes, str]:
    """(type, blob, canonical 'type base64 [comment]') or 431."""
    parts = text.strip().split()
    if len(parts) < 2 or parts[0] not in _KEY_TYPES:
        raise ParamError("Public key is invalid")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ParamError("Public key is invalid") from None
    # The blob starts with its own type string (uint32 length + name).
    if len(blob) < 4 or blob[4:4 + int.from_bytes(blob[:4], "big")].decode("ascii", "replace") != parts[0]:
        raise ParamError("Public key is invalid")
    return parts[0], blob, " ".join(parts[:3]) if len(parts) > 2 else " ".join(parts[:2])


def fingerprint(public_key: str) -> str:
    """CloudStack's fingerprint: MD5 of the key blob, lower-case hex pairs joined by colons."""
    _, blob, _ = parse_public_key(public_key)
    digest = hashlib.md5(blob).hexdigest()  # noqa: S324 - the format CloudStack and ssh-keygen -E md5 show
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def encrypt_for(public_key: str, plaintext: str) -> str:
    """plaintext encrypted with an ssh-rsa public key (RSA, PKCS#1 v1.5 padding), base64: how CloudStack's
    getVMPassword and EC2's GetPasswordData hand out a VM's password (the key pair's private key decrypts it)."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    try:
        key = load_ssh_public_key(public_key.strip().encode())
    except (ValueError, TypeError):
        raise ParamError("Public key is invalid") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ParamError("Only RSA key pairs can encrypt a password")
    return base64.b64encode(key.encrypt(plaintext.encode(), padding.PKCS1v15())).decode()


def encrypted_password(session: Session, vm: VirtualMachine) -> str | None:
    """The VM's password encrypted for its first key pair (what CloudStack's getVMPassword returns), or None: no
    password (only VMs of password-enabled templates get one, at deploy or reset), no key pair, or a key that cannot
    encrypt (not RSA)."""
    names = [k for k in (vm.keypairs or "").split(",") if k]
    if not vm.password or not names:
        return None
    kp = session.scalar(select(SSHKeyPair).where(SSHKeyPair.account_id == vm.account_id, SSHKeyPair.name == names[0]))
    if kp is None:
        return None
    try:
        return encrypt_for(kp.public_key, vm.password)
    except ParamError:
        return None


def generate(comment: str) -> tuple[str, str]:
    """(private key PEM, public key line) for a new 2048-bit RSA key (ssh-keygen; PEM like CloudStack's)."""
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key"
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", comment,
                            "-f", str(key)], check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise logged(InternalError, "Unable to generate an SSH key pair", exc) from None
        return key.read_text(), (Path(tmp) / "key.pub").read_text().strip()


def find(session: Session, owner: Account, name: str) -> SSHKeyPair | None:
    return session.scalar(select(SSHKeyPair).where(SSHKeyPair.account_id == owner.id, SSHKeyPair.name == name))


def _check_new(session: Session, owner: Account, name: str, public_key: str) -> None:
    if not name or not name.strip():
        raise ParamError("A key pair name is required")
    if find(session, owner, name) is not None:
        raise ParamError(f"A key pair with name '{name}' already exists.")
    fp = fingerprint(public_key)
    clash = session.scalar(select(SSHKeyPair.name).where(SSHKeyPair.account_id == owner.id,
                                                         SSHKeyPair.fingerprint == fp))
    if clash is not None:
        raise ParamError(f"A key pair with key '{public_key}' already exists for this account.")


def create(session: Session, owner: Account, name: str) -> tuple[SSHKeyPair, str]:
    if find(session, owner, name) is not None:
        raise ParamError(f"A key pair with name '{name}' already exists.")
    private, public = generate(f"{name}@devcloud")
    _check_new(session, owner, name, public)
    kp = SSHKeyPair(name=name, account_id=owner.id, domain_id=owner.domain_id, public_key=public,
                    fingerprint=fingerprint(public), created=utcnow())
    session.add(kp)
    session.flush()
    return kp, private


def register(session: Session, owner: Account, name: str, public_key: str) -> SSHKeyPair:
    _, _, canonical = parse_public_key(public_key)
    _check_new(session, owner, name, canonical)
    kp = SSHKeyPair(name=name, account_id=owner.id, domain_id=owner.domain_id, public_key=canonical,
                    fingerprint=fingerprint(canonical), created=utcnow())
    session.add(kp)
    session.flush()
    return kp
