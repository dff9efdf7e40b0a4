"""The downloader and the image store layout: checksums, http(s)/file fetches from loopback, limits, qcow2 size,
atomic writes."""

from __future__ import annotations

import hashlib
import http.server
import io
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.storage import download as dl
from management.storage.secondary import ImageStoreLayout, StoreError

pytestmark = pytest.mark.unit


def qcow2_header(vsize: int) -> bytes:
    return (b"QFI\xfb" + struct.pack(">I", 3) + b"\0" * 16 + struct.pack(">Q", vsize)).ljust(512, b"\0")


@pytest.fixture
def loopback() -> Iterator[tuple[str, dict[str, bytes]]]:
    files: dict[str, bytes] = {}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            data = files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", files
    finally:
        srv.shutdown()
        srv.server_close()


def test_checksum_forms() -> None:
    data = b"hello"
    md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    assert dl.parse_checksum(md5) == dl.Checksum("md5", md5)
    assert dl.parse_checksum("{MD5}" + md5.upper()) == dl.Checksum("md5", md5)
    assert dl.parse_checksum("{SHA-256}" + sha256) == dl.Checksum("sha256", sha256)
    assert dl.parse_checksum("{SHA-512}" + hashlib.sha512(data).hexdigest()).algorithm == "sha512"
    assert dl.parse_checksum("") is None and dl.parse_checksum(None) is None
    for bad in ("{SHA-256}abcd", "{FOO}" + md5, "xyz", "{MD5}" + sha256):
        with pytest.raises(ValueError):
            dl.parse_checksum(bad)


def test_fetch_http_progress_checksum_and_limit(loopback: Any) -> None:
    base, files = loopback
    data = b"a" * (3 * dl.CHUNK + 10)
    files["/img"] = data
    seen: list[tuple[int, int | None]] = []
    out = io.BytesIO()
    res = dl.fetch(f"{base}/img", out, checksum=dl.parse_checksum(hashlib.md5(data).hexdigest()),
                   progress=lambda d, t: seen.append((d, t)))
    assert out.getvalue() == data and res.size == len(data)
    assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data)) and len(seen) >= 4
    with pytest.raises(dl.DownloadError, match="checksum mismatch"):
        dl.fetch(f"{base}/img", io.BytesIO(), checksum=dl.parse_checksum("{MD5}" + "0" * 32))
    with pytest.raises(dl.DownloadError, match="larger than the limit"):
        dl.fetch(f"{base}/img", io.BytesIO(), max_bytes=100)
    with pytest.raises(dl.DownloadError, match="404"):
        dl.fetch(f"{base}/missing", io.BytesIO())
    with pytest.raises(dl.DownloadError, match="unsupported URL"):
        dl.fetch("ftp://127.0.0.1/x", io.BytesIO())


def test_fetch_file_and_connection_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.raw"
    p.write_bytes(b"z" * 1000)
    out = io.BytesIO()
    assert dl.fetch(p.as_uri(), out).size == 1000
    with pytest.raises(dl.DownloadError, match="cannot read"):
        dl.fetch((tmp_path / "nope").as_uri(), io.BytesIO())
    with pytest.raises(dl.DownloadError, match="cannot connect"):
        dl.fetch("http://127.0.0.1:9/x", io.BytesIO(), timeout=2)


def test_image_info_qcow2_raw_iso(tmp_path: Path) -> None:
    q = tmp_path / "a.qcow2"
    q.write_bytes(qcow2_header(10 * 1024**3))
    assert dl._qcow2_virtual_size(str(q)) == 10 * 1024**3
    r = tmp_path / "a.raw"
    r.write_bytes(b"\0" * 4097)
    assert dl.image_info(str(r), "RAW").virtual_size == 4097
    assert dl.image_info(str(r), "ISO").format == "iso"
    with pytest.raises(dl.DownloadError, match="QCOW2"):
        dl.image_info(str(r), "QCOW2")


def test_layout_atomic_writes_and_cleanup(tmp_path: Path) -> None:
    lay = ImageStoreLayout(tmp_path / "store")
    lay.ensure()
    rel = lay.template_rel(2, 7, "u-u-i-d", "QCOW2")
    assert rel == "template/tmpl/2/7/u-u-i-d.qcow2"
    assert lay.template_rel(2, 8, "iso-id", "ISO") == "iso/2/8/iso-id.iso"
    with pytest.raises(RuntimeError), lay.atomic_writer(rel) as fh:
        fh.write(b"partial")
        raise RuntimeError("boom")
    assert not lay.exists(rel) and not list((tmp_path / "store").rglob(".tmp-*"))
    lay.write_bytes(rel, b"full")
    assert lay.abs(rel).read_bytes() == b"full"
    lay.write_sparse("template/tmpl/1/1/s.vhd", 2 * 1024**3)
    assert lay.abs("template/tmpl/1/1/s.vhd").stat().st_size == 2 * 1024**3
    assert lay.usage_of("template/tmpl/1/1/s.vhd") < 1024 * 1024
    with pytest.raises(StoreError):
        lay.abs("../../etc/passwd")
    lay.remove_dir("template/tmpl/2/7")
    assert not (tmp_path / "store/template/tmpl/2").exists() and (tmp_path / "store/template/tmpl").is_dir()
    sp = lay.space()
    assert sp.total_bytes > 0 and 0 <= sp.free_bytes <= sp.total_bytes
