"""A public range must never shadow where this machine gets its packages from (reached via the default route)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from management.network import host
from management.network.provider import SpecError

pytestmark = pytest.mark.unit


def test_range_over_a_package_source_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(name: str, *_a: object, **_k: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("198.18.200.80", 0))] if name == "pypi.org" else []

    monkeypatch.setattr(host.socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(host, "run", lambda *a, **k: type("R", (), {"stdout": "[]"})())
    host._package_source_addresses.cache_clear()
    try:
        with pytest.raises(SpecError, match="198.18.200.80, the address of the package source pypi.org"):
            host.check_public_range("dcpubT", ipaddress.IPv4Network("198.18.200.0/24"))
        host.check_public_range("dcpubT", ipaddress.IPv4Network("198.18.201.0/24"))
    finally:
        host._package_source_addresses.cache_clear()
