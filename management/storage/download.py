"""Downloading templates and ISOs: http(s) and file URLs, streamed, size-limited, checksum-verified.

``fetch(url, dest)`` streams ``url`` to the already-open binary file ``dest`` (an image store's atomic writer),
calling ``progress(done, total)`` as bytes arrive, verifying the checksum CloudStack accepts
(``{SHA-256}hex``, ``{SHA-512}hex``, ``{SHA-1}hex``, ``{MD5}hex`` or plain md5 hex) and enforcing a size limit.
``image_info(path, fmt)`` finds the virtual size (``qemu-img info --output=json`` when present, else the qcow2
header, else the file size). Every failure is a :class:`DownloadError` whose text is fit for the template's status.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

CHUNK = 1024 * 1024
DEFAULT_TIMEOUT = 60.0
QCOW2_MAGIC = b"QFI\xfb"

ProgressFn = Callable[[int, int | None], None]

_ALGOS = {"MD5": "md5", "SHA-1": "sha1", "SHA1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256",
          "SHA256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512", "SHA512": "sha512"}
_BY_LENGTH = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
_CHECKSUM = re.compile(r"^(?:\{([A-Za-z0-9-]+)\})?([0-9a-fA-F]+)$")


class DownloadError(Exception):
    """A download that did not produce a usable file; ``str()`` is the user-facing reason."""


@dataclass(frozen=True, slots=True)
class Checksum:
    algorithm: str  # hashlib name
    hexdigest: str

    def new(self) -> hashlib._Hash:  # type: ignore[name-defined]
        return hashlib.new(self.algorithm)


@dataclass(frozen=True, slots=True)
class FetchResult:
    size: int  # bytes written
    hexdigest: str | None  # of the checksum's algorithm, when one was given


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # qcow2 | raw | vhd | iso | ...  (what the file is, lower case)
    virtual_size: int
    physical_size: int


def parse_checksum(value: str | None) -> Checksum | None:
    """CloudStack's checksum forms; a plain hex string is MD5 (other lengths are taken by their digest size)."""
    if value is None or not value.strip():
        return None
    m = _CHECKSUM.match(value.strip())
    if not m:
        raise ValueError(f"invalid checksum {value!r}: expected {{ALGORITHM}}hex or an md5 hex digest")
    algo_name, digest = m.group(1), m.group(2).lower()
    algo = _BY_LENGTH.get(len(digest)) if algo_name is None else _ALGOS.get(algo_name.upper())
    if algo is None:
        raise ValueError(f"unsupported checksum algorithm in {value!r}")
    if len(digest) != hashlib.new(algo).digest_size * 2:
        raise ValueError(f"checksum {value!r} has the wrong length for {algo}")
    return Checksum(algo, digest)


def check_url(url: str) -> str:
    """The scheme of a URL the downloader accepts (http, https, file); ValueError otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"invalid URL {url!r}: no host")
        return scheme
    if scheme == "file":
        if not parts.path:
            raise ValueError(f"invalid URL {url!r}: no path")
        return scheme
    raise ValueError(f"unsupported URL {url!r}: only http://, https:// and file:// URLs can be downloaded")


def fetch(url: str, dest: BinaryIO, *, checksum: Checksum | None = None, progress: ProgressFn | None = None,
          max_bytes: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> FetchResult:
    """Streams ``url`` into ``dest``; raises DownloadError on any failure (the caller discards ``dest``)."""
    try:
        scheme = check_url(url)
    except ValueError as exc:
        raise DownloadError(str(exc)) from None
    digest = checksum.new() if checksum else None
    done = 0
    try:
        if scheme == "file":
            path = unquote(urlsplit(url).path)
            try:
                total: int | None = os.path.getsize(path)
                src: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise DownloadError(f"cannot read {url}: {exc.strerror or exc}") from None
        else:
            req = urllib.request.Request(url, headers={"User-Agent": "devcloud-ssvm/1.0"})
            try:
                resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - scheme checked above
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"HTTP Server returned {exc.code} (expected 200 OK) for {url}") from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise DownloadError(f"cannot connect to {url}: {reason}") from None
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            src = resp
        if total is not None and max_bytes is not None and total > max_bytes:
            src.close()
            raise DownloadError(f"the file at {url} is {total} bytes, larger than the limit of {max_bytes} bytes")
        with src:
            if progress:
                progress(0, total)
            while True:
                try:
                    chunk = src.read(CHUNK)
                except OSError as exc:
                    raise DownloadError(f"download of {url} interrupted: {exc}") from None
                if not chunk:
                    break
                done += len(chunk)
                if max_bytes is not None and done > max_bytes:
                    raise DownloadError(f"the file at {url} exceeds the limit of {max_bytes} bytes")
                dest.write(chunk)
                if digest is not None:
                    digest.update(chunk)
                if progress:
                    progress(done, total)
    except DownloadError:
        raise
    except OSError as exc:
        raise DownloadError(f"cannot store the download of {url}: {exc.strerror or exc}") from None
    if total is not None and done != total:
        raise DownloadError(f"download of {url} incomplete: got {done} of {total} bytes")
    hexd = digest.hexdigest() if digest is not None else None
    if checksum is not None and hexd != checksum.hexdigest:
        raise DownloadError(f"checksum mismatch: expected {checksum.algorithm} {checksum.hexdigest}, "
                            f"the downloaded file has {hexd}")
    return FetchResult(done, hexd)


def _qcow2_virtual_size(path: str) -> int | None:
    with open(path, "rb") as fh:
        head = fh.read(32)
    if len(head) < 32 or head[:4] != QCOW2_MAGIC:
        return None
    return int(struct.unpack(">Q", head[24:32])[0])


def image_info(path: str, fmt: str | None = None) -> ImageInfo:
    """Format and virtual size of a downloaded image; DownloadError when a declared QCOW2 is not one."""
    physical = os.path.getsize(path)
    declared = (fmt or "").lower()
    if declared in ("iso", "raw"):  # the file is the disk (qemu-img would round raw up to a sector)
        return ImageInfo(declared, physical, physical)
    qemu_img = shutil.which("qemu-img")
    if qemu_img:
        cmd = [qemu_img, "info", "--output=json"]
        # Probing raw images is refused by nothing but warned about; name the format we know when it's safe.
        if declared == "qcow2":
            cmd += ["-f", declared]
        try:
            out = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0:
            try:
                data = json.loads(out.stdout)
                return ImageInfo(str(data.get("format", declared or "raw")), int(data["virtual-size"]), physical)
            except (ValueError, KeyError, TypeError):
                pass
        elif out is not None and declared == "qcow2":
            raise DownloadError(f"the file is not a valid QCOW2 image: {out.stderr.strip()[:200]}")
    vsize = _qcow2_virtual_size(path)
    if vsize is not None:
        return ImageInfo("qcow2", vsize, physical)
    if declared == "qcow2":
        raise DownloadError("the file is not a valid QCOW2 image (no QFI header)")
    return ImageInfo(declared or "raw", physical, physical)


__all__ = ["Checksum", "DownloadError", "FetchResult", "ImageInfo", "check_url", "fetch", "image_info",
           "parse_checksum"]
