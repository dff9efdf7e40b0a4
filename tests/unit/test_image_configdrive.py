"""Config drive contents, read back from the ISO with isoinfo."""

from __future__ import annotations

import json
import shutil

import pytest

from management.drivers.configdrive import build_config_drive, meta_data, read_config_drive, volume_label

pytestmark = pytest.mark.unit

needs_iso_tools = pytest.mark.skipif(
    not (shutil.which("genisoimage") and shutil.which("isoinfo")), reason="genisoimage is not installed"
)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB/x+y user@host"


def test_meta_data_document():
    doc = meta_data(hostname="vm-1", instance_uuid="u-1", public_keys=[KEY, " "], extra_meta={"x": 1})
    assert doc["hostname"] == "vm-1" and doc["uuid"] == "u-1" and doc["x"] == 1
    assert doc["public_keys"] == {"key-0": KEY}
    assert doc["keys"] == [{"name": "key-0", "type": "ssh", "data": KEY}]


def test_named_keys_are_kept():
    doc = meta_data(hostname="h", instance_uuid="u", public_keys={"mykey": KEY + "\n"})
    assert doc["public_keys"] == {"mykey": KEY}


@needs_iso_tools
def test_config_drive_layout_and_label(tmp_path):
    ud = b"#!/bin/sh\necho hello \xe2\x9c\x93\n"
    iso = build_config_drive(
        tmp_path / "cd.iso", hostname="vm-1", instance_uuid="1234", public_keys=[KEY], user_data=ud
    )
    assert volume_label(iso) == "config-2"
    files = read_config_drive(iso)
    md = json.loads(files["openstack/latest/meta_data.json"])
    assert md["hostname"] == "vm-1" and md["uuid"] == "1234"
    assert list(md["public_keys"].values()) == [KEY]
    assert files["openstack/latest/user_data"] == ud
    assert "openstack/2012-08-10/meta_data.json" in files


@needs_iso_tools
def test_no_user_data_means_no_file(tmp_path):
    iso = build_config_drive(tmp_path / "cd.iso", hostname="h", instance_uuid="u", public_keys=[], user_data=None)
    files = read_config_drive(iso)
    assert "openstack/latest/user_data" not in files
    assert json.loads(files["openstack/latest/meta_data.json"])["public_keys"] == {}


@needs_iso_tools
def test_rebuild_replaces_the_drive(tmp_path):
    path = tmp_path / "cd.iso"
    build_config_drive(path, hostname="a", instance_uuid="u", user_data=b"one")
    build_config_drive(path, hostname="b", instance_uuid="u", user_data=b"two")
    files = read_config_drive(path)
    assert json.loads(files["openstack/latest/meta_data.json"])["hostname"] == "b"
    assert files["openstack/latest/user_data"] == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["cd.iso"]
