"""Host preparation on this machine: idempotent, libvirt answers, domain create works."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import pytest

from appliance.host import prepare
from appliance.host.runner import LocalRunner

pytestmark = pytest.mark.integration

import libvirt  # noqa: E402


@pytest.fixture(scope="module")
def first_run():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    t0 = time.monotonic()
    results = prepare.prepare_host()
    print(
        f"first prepare run {time.monotonic() - t0:.2f}s: "
        + "; ".join(f"{r.name}={'changed' if r.changed else 'ok'}" for r in results)
    )
    return results


def test_second_run_changes_nothing(first_run):
    names = [r.name for r in first_run]
    assert names[:2] == ["apt-packages", "qemu.conf"] and "libvirt-ready" in names
    again = prepare.prepare_host()
    assert [r.name for r in again] == names
    assert [r for r in again if r.changed] == []


def test_qemu_hook_is_the_overlay_module(first_run):
    from management.drivers.libvirt import overlay

    hook = overlay.HOOK_PATH
    assert hook.stat().st_mode & 0o777 == 0o755
    assert hook.read_text() == "#!/usr/bin/python3 -I\n" + Path(overlay.__file__).read_text()
    names = {r.name: r for r in first_run}
    assert "qemu-hook" in names


def test_qemu_conf_settings_applied(first_run):
    text = Path(prepare.QEMU_CONF).read_text()
    for key, value in prepare.QEMU_SETTINGS.items():
        assert f"\n{key} = {value}\n" in "\n" + text


def test_apply_settings_keeps_comments_and_replaces_duplicates():
    text = '#user = "libvirt-qemu"\nuser = "nobody"\nvnc_listen = "0.0.0.0"\nuser = "x"\n'
    out = prepare.apply_settings(text, {"user": '"root"', "group": '"root"'})
    assert out == '#user = "libvirt-qemu"\nuser = "root"\nvnc_listen = "0.0.0.0"\ngroup = "root"\n'
    assert prepare.apply_settings(out, {"user": '"root"', "group": '"root"'}) == out


def test_qemu_system_answers(first_run):
    conn = libvirt.open(prepare.URI)
    try:
        assert conn.getVersion() > 0
        assert "<domain type='qemu'" in conn.getCapabilities().replace('"', "'")
    finally:
        conn.close()


def test_minimal_domain_create(first_run):
    conn = libvirt.open(prepare.URI)
    name = f"dcprep-{os.getpid()}"
    xml = f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""
    try:
        timings = []
        for _ in range(2):
            t0 = time.monotonic()
            dom = conn.createXML(xml, 0)
            created = time.monotonic() - t0
            assert dom.isActive()
            t0 = time.monotonic()
            dom.destroy()
            timings.append((created, time.monotonic() - t0))
        print("create/destroy: " + ", ".join(f"{c:.2f}s/{d:.2f}s" for c, d in timings))
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.lookupByName(name).destroy()
        conn.close()


def test_virt_type_probe_is_cached(first_run, tmp_path):
    runner = LocalRunner()
    cache = tmp_path / "virt-type.json"
    t0 = time.monotonic()
    vt = prepare.probe_virt_type(runner, cache_file=str(cache), deadline=15)
    probe_s = time.monotonic() - t0
    assert vt in ("kvm", "qemu")
    doc = json.loads(cache.read_text())
    print(f"virt type {vt} in {probe_s:.1f}s: {doc['detail']}")
    t0 = time.monotonic()
    assert prepare.probe_virt_type(runner, cache_file=str(cache)) == vt
    assert json.loads(cache.read_text())["probed_at"] == doc["probed_at"], "second call uses the cache"
