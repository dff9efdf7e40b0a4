"""NFS secondary storage on the management server: whether this kernel can mount NFS, and the mount itself.

The management server writes templates, ISOs and snapshot backups into an image store's ``local_path``. For an
``nfs://server/export`` store that path is a mount point under the state directory, ``<state>/mnt/secondary/<uuid>``
(CloudStack's SSVM mounts its stores the same way). The mount is made when the store is added and again when the
server starts; a kernel without an NFS client (this project's CI machines) is told apart so the caller can refuse
with a clear error instead of writing into an unmounted directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

MOUNT_TIMEOUT = 60.0


class MountError(Exception):
    pass


def client_available() -> bool:
    """True when this kernel mounts NFS: the filesystem is registered, or a loadable module for it exists."""
    try:
        if any(line.split()[-1] in ("nfs", "nfs4") for line in Path("/proc/filesystems").read_text().splitlines()
               if line.strip()):
            return True
    except OSError:
        return False
    release = os.uname().release
    return any(Path(f"/lib/modules/{release}/kernel/fs/nfs").glob("nfs.ko*")) and shutil.which("mount.nfs") is not None


def mount_point(state_dir: Path, store_uuid: str) -> Path:
    return state_dir / "mnt" / "secondary" / store_uuid


def ensure_mounted(server: str, export: str, target: Path, timeout: float = MOUNT_TIMEOUT) -> bool:
    """Mount server:export on target unless something is mounted there already; True if it mounted now."""
    target.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(target):
        return False
    if shutil.which("mount.nfs") is None:
        raise MountError("mount.nfs is missing (install nfs-common)")
    try:
        r = subprocess.run(["mount", "-t", "nfs", f"{server}:{export}", str(target)],
                           capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MountError(f"mounting {server}:{export} timed out after {timeout:.0f} s") from None
    if r.returncode != 0:
        raise MountError(f"mounting {server}:{export} on {target} failed: {(r.stderr or r.stdout).strip()}")
    return True


def unmount(target: Path) -> None:
    if os.path.ismount(target):
        subprocess.run(["umount", str(target)], capture_output=True, text=True, timeout=MOUNT_TIMEOUT, check=False)
