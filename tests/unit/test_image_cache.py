"""Cache key and cache behaviour of the tiny image builder (no apt, no build)."""

from __future__ import annotations

import pytest

from appliance.image import builder
from appliance.image.builder import Package, cache_key

pytestmark = pytest.mark.unit

PKGS = [Package("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2"), Package("busybox-static", "1:1.35.0-4")]
FILES = {"rcS": b"#!/bin/sh\necho hi\n", "initramfs-init": b"#!/bin/sh\n"}


def test_key_is_stable_and_order_independent():
    assert cache_key(PKGS, FILES) == cache_key(list(reversed(PKGS)), dict(reversed(FILES.items())))
    assert len(cache_key(PKGS, FILES)) == 64


def test_key_changes_with_package_version():
    bumped = [PKGS[0], Package("busybox-static", "1:1.35.0-5")]
    assert cache_key(bumped, FILES) != cache_key(PKGS, FILES)


def test_key_changes_with_guest_script():
    assert cache_key(PKGS, {**FILES, "rcS": b"#!/bin/sh\necho bye\n"}) != cache_key(PKGS, FILES)


def test_key_changes_with_builder_version(monkeypatch):
    before = cache_key(PKGS, FILES)
    monkeypatch.setattr(builder, "BUILDER_VERSION", builder.BUILDER_VERSION + ".test")
    assert cache_key(PKGS, FILES) != before


def test_default_key_covers_the_shipped_guest_files():
    # every shipped script is an input: editing one must produce a new image
    files = {n: builder.guest_file(n) for n in builder.GUEST_FILES}
    assert all(files.values())
    assert cache_key(PKGS) == cache_key(PKGS, files)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DEVCLOUD_CACHE_DIR", str(tmp_path))
    assert builder.default_cache_dir() == tmp_path
    monkeypatch.delenv("DEVCLOUD_CACHE_DIR")
    assert str(builder.default_cache_dir()) == "/var/cache/devcloud/images"


def test_cached_image_is_returned_without_building(monkeypatch, tmp_path):
    monkeypatch.setattr(builder, "resolve_packages", lambda: PKGS)

    def no_build(*a, **kw):
        raise AssertionError("must not rebuild when the inputs are unchanged")

    monkeypatch.setattr(builder, "_build", no_build)
    monkeypatch.setattr(builder, "_download", no_build)
    target = builder.image_path(tmp_path, cache_key(PKGS))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"qcow2")
    assert builder.build_tiny_image(tmp_path) == target


def test_changed_inputs_trigger_a_build(monkeypatch, tmp_path):
    old = builder.image_path(tmp_path, cache_key(PKGS))
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    newer = [PKGS[0], Package("busybox-static", "1:1.36.0-1")]
    monkeypatch.setattr(builder, "resolve_packages", lambda: newer)
    monkeypatch.setattr(builder, "_download", lambda pkgs, d, p: {})
    built = []

    def fake_build(out, debs, kernel_pkg, work, progress):
        built.append(kernel_pkg)
        out.write_bytes(b"new")

    monkeypatch.setattr(builder, "_build", fake_build)
    path = builder.build_tiny_image(tmp_path)
    assert built == [PKGS[0].name]
    assert path != old and path.read_bytes() == b"new"
    assert (path.parent / "manifest.json").exists()
    assert not list(tmp_path.glob(".build-*")), "temporary build dirs are cleaned up"


def test_module_closure_puts_dependencies_first(tmp_path):
    def ko(name, deps):
        p = tmp_path / "kernel" / f"{name}.ko"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x7fELF....\0license=GPL\0depends=" + deps.encode() + b"\0vermagic=6.1\0")

    ko("virtio_blk", "virtio,virtio_ring")
    ko("virtio_ring", "virtio")
    ko("virtio", "")
    ko("isofs", "")
    ko("unrelated", "")
    order = [p.stem for p in builder._module_closure(tmp_path, ["virtio_blk", "isofs", "builtin_one"])]
    assert order == ["virtio", "virtio_ring", "virtio_blk", "isofs"]


def test_initramfs_cpio_is_newc_with_trailer():
    c = builder._Cpio()
    c.dir("bin")
    c.chardev("dev/console", 5, 1)
    c.file("init", b"#!/bin/sh\n", 0o755)
    data = c.finish()
    assert data.startswith(b"070701")
    assert b"TRAILER!!!\0" in data
    assert len(data) % 4 == 0
