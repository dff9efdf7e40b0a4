"""Secrets at rest: API secret keys, hypervisor host credentials and guest passwords are stored encrypted.

The key is generated at first start and kept in the state directory (``db.key``, mode 0600), as CloudStack keeps
the key that opens its database secrets outside of the database. Several management servers sharing one database
must share this file. The database alone reveals no secret.

A stored value reads ``enc1:<key id>:<Fernet token>``; the key id (8 hex digits of the key's SHA-256) says which
key sealed it, so a process that serves several state directories (tests) opens each with its own key. Values
are opened when a row's column is loaded; the columns are deferred where rows are listed in bulk, so a secret is
decrypted only where it is used (the API-key lookup selects by the API key, which is not secret, and opens the
secret of the one matching row).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import String, Text
from sqlalchemy.types import TypeDecorator

from management import statedir

PREFIX = "enc1:"
KEY_FILE = "db.key"


class SecretsUnavailable(RuntimeError):
    """A sealed value whose key this process does not have (or no key is installed at all)."""


class _Keyring:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, Fernet] = {}
        self._current: str | None = None

    def install(self, key: bytes) -> str:
        kid = key_id(key)
        with self._lock:
            self._keys[kid] = Fernet(key)
            self._current = kid
        return kid

    def seal(self, plain: str) -> str:
        with self._lock:
            kid = self._current
            f = self._keys.get(kid) if kid else None
        if kid is None or f is None:
            raise SecretsUnavailable("no database key installed: secrets cannot be stored")
        return f"{PREFIX}{kid}:{f.encrypt(plain.encode()).decode()}"

    def open(self, stored: str) -> str:
        kid, _, token = stored[len(PREFIX):].partition(":")
        f = self._keys.get(kid)
        if f is None:
            raise SecretsUnavailable(f"this server lacks the database key {kid} that sealed a stored secret; "
                                     f"copy {KEY_FILE} from the server that created the database")
        try:
            return f.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretsUnavailable(f"a stored secret does not open with the database key {kid}") from None


KEYRING = _Keyring()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def load_or_create_key(path: Path) -> bytes:
    """The key in `path`, created (0600, first writer wins) when there is none."""
    return statedir.create_once(path, Fernet.generate_key() + b"\n").strip()


def install(key: bytes) -> str:
    """Makes `key` the one new secrets are sealed with (and one of those stored ones open with); returns its id."""
    return KEYRING.install(key)


def install_from(state_dir: Path, key_file: Path | None = None) -> str:
    return install(load_or_create_key(key_file or Path(state_dir) / KEY_FILE))


def seal(plain: str | None) -> str | None:
    return None if plain is None else KEYRING.seal(plain)


def open_sealed(stored: str | None) -> str | None:
    if stored is None or not is_sealed(stored):
        return stored  # written before secrets were sealed (the migration seals those)
    return KEYRING.open(stored)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


class _Sealed(TypeDecorator[str]):
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return seal(value)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return open_sealed(value)


class SealedString(_Sealed):
    """A String column whose values are stored encrypted (size the column for the token: ~2.4x the text)."""

    impl = String
    cache_ok = True


class SealedText(_Sealed):
    impl = Text
    cache_ok = True
