"""The secondary image store on disk: where templates, ISOs and snapshot backups live, and how they are written.

Layout under an ImageStore's ``local_path`` (CloudStack's NFS secondary storage layout)::

    template/tmpl/<account id>/<template id>/<template uuid>.<ext>     templates (qcow2, raw, vhd, ova)
    iso/<account id>/<template id>/<template uuid>.iso                  ISOs
    snapshots/<account id>/<volume id>/<snapshot uuid>                 snapshot backups

Every write is atomic: data goes to a hidden temporary file in the destination directory, is fsync'ed, then
renamed over the final name (and the directory fsync'ed), so a reader never sees half a template and a crash
leaves at most a ``.tmp-*`` file that :meth:`ImageStoreLayout.sweep_temp` removes.

No database here: services pass plain paths and ids.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TEMPLATE_ROOT = "template/tmpl"
ISO_ROOT = "iso"
SNAPSHOT_ROOT = "snapshots"
TMP_PREFIX = ".tmp-"

_EXT = {"QCOW2": "qcow2", "RAW": "img", "VHD": "vhd", "VHDX": "vhdx", "OVA": "ova", "ISO": "iso", "TAR": "tar"}


class StoreError(Exception):
    """The store cannot be used (missing, read-only, path outside the store...)."""


@dataclass(frozen=True, slots=True)
class StoreSpace:
    total_bytes: int
    free_bytes: int

    @property
    def used_bytes(self) -> int:
        return max(self.total_bytes - self.free_bytes, 0)


def extension(fmt: str) -> str:
    return _EXT.get(fmt.upper(), fmt.lower())


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ImageStoreLayout:
    """Paths and atomic file operations inside one image store directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # ---- paths ------------------------------------------------------------------------------------------------
    @staticmethod
    def template_rel(account_id: int, template_id: int, template_uuid: str, fmt: str) -> str:
        if fmt.upper() == "ISO":
            return f"{ISO_ROOT}/{account_id}/{template_id}/{template_uuid}.iso"
        return f"{TEMPLATE_ROOT}/{account_id}/{template_id}/{template_uuid}.{extension(fmt)}"

    @staticmethod
    def snapshot_rel(account_id: int, volume_id: int, snapshot_uuid: str) -> str:
        return f"{SNAPSHOT_ROOT}/{account_id}/{volume_id}/{snapshot_uuid}"

    def abs(self, rel: str) -> Path:
        """The absolute path of a store-relative path; refuses anything that escapes the store."""
        root = self.root.resolve()
        path = (root / rel).resolve()
        if path != root and root not in path.parents:
            raise StoreError(f"path {rel!r} is outside the image store {root}")
        return path

    def exists(self, rel: str) -> bool:
        return self.abs(rel).is_file()

    def ensure(self) -> None:
        """Creates the store directory and its top-level folders (an empty store is valid)."""
        try:
            for sub in (TEMPLATE_ROOT, ISO_ROOT, SNAPSHOT_ROOT):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot prepare image store {self.root}: {exc.strerror or exc}") from exc

    # ---- atomic writes ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def atomic_writer(self, rel: str) -> Iterator[BinaryIO]:
        """Yields a binary file; on a clean exit its content replaces ``rel`` atomically, else it vanishes."""
        final = self.abs(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            fsync_dir(final.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def atomic_path(self, rel: str) -> Iterator[Path]:
        """Like :meth:`atomic_writer` for tools that write a path themselves (qemu-img, cp)."""
        final = self.abs(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=final.parent)
        os.close(fd)
        try:
            yield Path(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            fsync_dir(final.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def write_bytes(self, rel: str, data: bytes) -> Path:
        with self.atomic_writer(rel) as fh:
            fh.write(data)
        return self.abs(rel)

    def write_sparse(self, rel: str, size: int, head: bytes = b"") -> Path:
        """A file of ``size`` bytes that occupies (almost) no disk: ``head`` then a hole."""
        with self.atomic_writer(rel) as fh:
            fh.write(head)
            fh.truncate(max(size, len(head)))
        return self.abs(rel)

    def copy_in(self, src: str | os.PathLike[str], rel: str, chunk: int = 4 * 1024 * 1024) -> int:
        """Copies a file into the store atomically (sparse-aware via shutil); returns its size."""
        with self.atomic_path(rel) as tmp:
            shutil.copyfile(src, tmp)
        return self.abs(rel).stat().st_size

    # ---- removal and housekeeping -----------------------------------------------------------------------------
    def remove(self, rel: str, *, prune: bool = True) -> None:
        """Deletes a file (no error when already gone) and, with ``prune``, its now-empty parent folders."""
        path = self.abs(rel)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        if prune:
            self._prune(path.parent)

    def remove_dir(self, rel: str) -> None:
        path = self.abs(rel)
        if path == self.root.resolve():
            raise StoreError("refusing to remove the whole image store")
        shutil.rmtree(path, ignore_errors=True)
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        root = self.root.resolve()
        tops = {self.abs(TEMPLATE_ROOT), self.abs(ISO_ROOT), self.abs(SNAPSHOT_ROOT), root}
        d = directory
        while d not in tops and root in d.parents:
            try:
                d.rmdir()
            except OSError:
                return
            d = d.parent

    def sweep_temp(self) -> int:
        """Removes temporary files a crash left behind; returns how many."""
        n = 0
        for path in self.root.rglob(TMP_PREFIX + "*"):
            with contextlib.suppress(OSError):
                path.unlink()
                n += 1
        return n

    # ---- space ------------------------------------------------------------------------------------------------
    def space(self) -> StoreSpace:
        try:
            st = os.statvfs(self.root)
        except OSError as exc:
            raise StoreError(f"image store {self.root} is not reachable: {exc.strerror or exc}") from exc
        return StoreSpace(total_bytes=st.f_blocks * st.f_frsize, free_bytes=st.f_bavail * st.f_frsize)

    def usage_of(self, rel: str) -> int:
        """Bytes actually allocated on disk by a file (a sparse file counts its data only)."""
        st = self.abs(rel).stat()
        return int(st.st_blocks) * 512


__all__ = ["ImageStoreLayout", "StoreError", "StoreSpace", "extension"]
