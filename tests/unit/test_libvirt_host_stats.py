"""A host's stats survive a domain that goes away while they are gathered: on a busy host VMs are destroyed all the
time, and a failed host_stats is a failed ping (the host goes Disconnected and deploys find no host)."""

from __future__ import annotations

from typing import Any

import libvirt
import pytest

from management.drivers.libvirt.driver import LibvirtDriver


class _Vanished:
    def info(self) -> list[int]:
        err = libvirt.libvirtError("Domain not found: no domain with matching uuid")
        raise err


class _Alive:
    def info(self) -> list[int]:
        return [1, 262144, 262144, 2, 10**9]


def test_a_domain_destroyed_during_host_stats_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    d = LibvirtDriver("test:///default", events=False)
    real_list = libvirt.virConnect.listAllDomains

    def listing(conn: Any, flags: int = 0) -> list[Any]:
        if flags == libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE:
            return [_Alive(), _Vanished(), _Alive()]
        return real_list(conn, flags)

    monkeypatch.setattr(libvirt.virConnect, "listAllDomains", listing)
    stats = d.host_stats()
    assert stats.vcpus_allocated == 4 and stats.domains_running == 2
    assert stats.memory_total_bytes > 0
