"""ConfigDrive v2 (the OpenStack layout cloud-init reads) as an iso9660 image.

Needs Debian `genisoimage` on the host. The filesystem label is `config-2`; attach it
as a cdrom (IDE bus on the `pc` machine: the cloud kernel has ata_piix but no ahci)
or as a read-only virtio disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

LABEL = "config-2"


def meta_data(
    *,
    hostname: str,
    instance_uuid: str,
    public_keys: Iterable[str] | Mapping[str, str],
    extra_meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `openstack/latest/meta_data.json` document."""
    if isinstance(public_keys, Mapping):
        keys = {str(k): v.strip() for k, v in public_keys.items()}
    else:
        keys = {f"key-{i}": k.strip() for i, k in enumerate(public_keys) if k.strip()}
    doc: dict[str, Any] = {
        "uuid": instance_uuid,
        "hostname": hostname,
        "name": hostname,
        "launch_index": 0,
        "availability_zone": "nova",
        "public_keys": keys,
        # cloud-init also reads the list form
        "keys": [{"name": n, "type": "ssh", "data": k} for n, k in keys.items()],
    }
    if extra_meta:
        doc.update(extra_meta)
    return doc


def build_config_drive(
    path: str | os.PathLike[str],
    *,
    hostname: str,
    instance_uuid: str,
    public_keys: Iterable[str] | Mapping[str, str] = (),
    user_data: bytes | None = None,
    extra_meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a config-drive ISO at `path` (replaced atomically) and return it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = meta_data(hostname=hostname, instance_uuid=instance_uuid, public_keys=public_keys, extra_meta=extra_meta)
    with tempfile.TemporaryDirectory(prefix="configdrive-") as tmp:
        root = Path(tmp) / "root"
        for version in ("latest", "2012-08-10"):
            d = root / "openstack" / version
            d.mkdir(parents=True)
            (d / "meta_data.json").write_text(json.dumps(doc, sort_keys=True))
            if user_data is not None:
                (d / "user_data").write_bytes(user_data)
        tmp_iso = out.with_name(f".{out.name}.tmp")
        cmd = [
            _mkisofs(),
            "-quiet",
            "-o",
            str(tmp_iso),
            "-V",
            LABEL,
            "-J",
            "-R",
            "-input-charset",
            "utf-8",
            str(root),
        ]
        subprocess.run(cmd, check=True, capture_output=True)
        os.replace(tmp_iso, out)
    return out


def _mkisofs() -> str:
    for tool in ("genisoimage", "mkisofs", "xorrisofs"):
        if shutil.which(tool):
            return tool
    raise RuntimeError("no ISO tool: apt-get install genisoimage")


def read_config_drive(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """Files of a config-drive ISO (path -> bytes), read with `isoinfo` (genisoimage); for tests."""
    listing = subprocess.run(
        ["isoinfo", "-R", "-f", "-i", str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    files: dict[str, bytes] = {}
    for name in listing:
        data = subprocess.run(["isoinfo", "-R", "-i", str(path), "-x", name], check=True, capture_output=True).stdout
        if name.count("/") >= 3:  # openstack/<v>/<file>; directories read back empty
            files[name.lstrip("/")] = data
    return files


def volume_label(path: str | os.PathLike[str]) -> str:
    """The iso9660 volume id (bytes 40..72 of the primary volume descriptor at sector 16)."""
    with open(path, "rb") as f:
        f.seek(16 * 2048)
        pvd = f.read(2048)
    return pvd[40:72].decode("ascii", "replace").strip()
