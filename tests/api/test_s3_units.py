"""Pure pieces of the S3 endpoint: the aws-chunked decoder against AWS's published example, the object store."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from management.api.s3.auth import AuthResult, ChunkDecoder, Credentials, signing_key
from management.api.s3.errors import S3Error
from management.storage import objects as st

pytestmark = pytest.mark.unit

# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html (example: 66560 bytes of 'a', 64 KiB chunks)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGS = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
              "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
              "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]


def _aws_example_auth() -> AuthResult:
    creds = Credentials("AKIAIOSFODNN7EXAMPLE", SECRET, "acct", "name")
    key = signing_key(SECRET, "20130524", "us-east-1", "s3")
    return AuthResult(creds, 4, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", key, "20130524/us-east-1/s3/aws4_request",
                      "20130524T000000Z", SEED)


def _aws_example_body(sigs: list[str]) -> bytes:
    return (f"10000;chunk-signature={sigs[0]}\r\n".encode() + b"a" * 65536 + b"\r\n"
            + f"400;chunk-signature={sigs[1]}\r\n".encode() + b"a" * 1024 + b"\r\n"
            + f"0;chunk-signature={sigs[2]}\r\n\r\n".encode())


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_chunk_decoder_matches_aws_example(step: int) -> None:
    body = _aws_example_body(CHUNK_SIGS)
    dec = ChunkDecoder(_aws_example_auth(), signed=True)
    out = b"".join(b"".join(dec.feed(body[i:i + step])) for i in range(0, len(body), step))
    dec.close()
    assert out == b"a" * 66560


def test_chunk_decoder_rejects_bad_signature_and_truncation() -> None:
    bad = list(CHUNK_SIGS)
    bad[1] = "0" * 64
    dec = ChunkDecoder(_aws_example_auth(), signed=True)
    with pytest.raises(S3Error) as e:
        dec.feed(_aws_example_body(bad))
    assert e.value.code == "SignatureDoesNotMatch"
    dec = ChunkDecoder(_aws_example_auth(), signed=True)
    dec.feed(_aws_example_body(CHUNK_SIGS)[:66000])
    with pytest.raises(S3Error) as e:
        dec.close()
    assert e.value.code == "IncompleteBody"


def test_unsigned_trailer_decoder() -> None:
    dec = ChunkDecoder()
    body = b"5\r\nhello\r\n3\r\n123\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    assert b"".join(dec.feed(body)) == b"hello123"
    dec.close()
    assert dec.trailers == {"x-amz-checksum-crc32": "AAAAAA=="}
    with pytest.raises(S3Error):
        ChunkDecoder().feed(b"zz\r\n")


def test_crc32c_known_value() -> None:
    assert st.crc32c(b"123456789") == 0xE3069283
    assert st.checksum_of("CRC32C", b"123456789") == "4waSgw=="


def _put(store: st.ObjectStore, bucket: str, key: str, data: bytes) -> st.ObjectInfo:
    w = store.writer(bucket)
    w.write(data)
    return store.commit(bucket, key, w)


def test_store_listing_and_atomic_overwrite(tmp_path: Path) -> None:
    store = st.ObjectStore(tmp_path, inline_max=0)
    store.create_bucket("bkt", "o", "n", "us-east-1")
    keys = ["a/1", "a/2", "a/b/1", "b", "c/", "c/x", "\u00e9", "zz"]
    for k in keys:
        _put(store, "bkt", k, k.encode())
    lst = store.list_keys("bkt")
    assert [o.key for o in lst.contents] == sorted(keys, key=str.encode)
    lst = store.list_keys("bkt", delimiter="/")
    assert [o.key for o in lst.contents] == ["b", "zz", "\u00e9"] and lst.prefixes == ["a/", "c/"]
    lst = store.list_keys("bkt", delimiter="/", max_keys=2)
    assert lst.truncated and lst.prefixes == ["a/"] and [o.key for o in lst.contents] == ["b"]
    lst2 = store.list_keys("bkt", delimiter="/", after=lst.last, max_keys=2)
    assert lst2.prefixes == ["c/"] and [o.key for o in lst2.contents] == ["zz"] and lst2.truncated
    lst = store.list_keys("bkt", prefix="a/", delimiter="/")
    assert [o.key for o in lst.contents] == ["a/1", "a/2"] and lst.prefixes == ["a/b/"]
    # an overwrite replaces the data file; the old one is gone, only one file per object remains
    first = store.get("bkt", "b").path
    _put(store, "bkt", "b", b"new")
    assert not first.exists() and store.get("bkt", "b").path.read_bytes() == b"new"
    files = [p for p in (tmp_path / "buckets" / "bkt").rglob("*") if p.is_file()]
    assert len(files) == len(keys)


def test_store_sweep_removes_crash_leftovers(tmp_path: Path) -> None:
    store = st.ObjectStore(tmp_path, inline_max=0)
    store.create_bucket("bkt", "o", "n", "us-east-1")
    _put(store, "bkt", "kept", b"1")
    w = store.writer("bkt")  # a PUT that never committed: temp file
    w.write(b"partial")
    w2 = store.writer("bkt")  # renamed but never committed
    w2.write(b"orphan")
    w2.finish()
    assert store.sweep() == 2
    assert [o.key for o in store.list_keys("bkt").contents] == ["kept"]
    assert store.get("bkt", "kept").path.read_bytes() == b"1"


def test_store_concurrent_puts_same_key(tmp_path: Path) -> None:
    store = st.ObjectStore(tmp_path, inline_max=0)
    store.create_bucket("bkt", "o", "n", "us-east-1")
    payloads = [bytes([i]) * 10000 for i in range(16)]
    threads = [threading.Thread(target=_put, args=(store, "bkt", "k", p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info = store.get("bkt", "k")
    data = info.path.read_bytes()
    assert data in payloads and info.etag == hashlib.md5(data).hexdigest()
    files = [p for p in (tmp_path / "buckets" / "bkt").rglob("*") if p.is_file()]
    assert len(files) == 1


def test_small_objects_live_in_the_index(tmp_path: Path) -> None:
    store = st.ObjectStore(tmp_path, inline_max=1000)
    store.create_bucket("bkt", "o", "n", "us-east-1")
    small = _put(store, "bkt", "small", b"s" * 1000)
    big = _put(store, "bkt", "big", b"b" * 1001)
    assert small.inline == b"s" * 1000 and big.inline is None and big.path.read_bytes() == b"b" * 1001
    files = [p for p in (tmp_path / "buckets" / "bkt").rglob("*") if p.is_file()]
    assert files == [big.path]
    info, fh = store.open("bkt", "small")
    assert fh.read() == b"s" * 1000 and info.etag == hashlib.md5(b"s" * 1000).hexdigest()
    copied = store.copy(info, "bkt", "copy", content_type=None, headers={}, meta={})
    assert store.open("bkt", "copy")[1].read() == b"s" * 1000 and copied.inline is not None
    _put(store, "bkt", "big", b"now small")  # a file version replaced by an inline one: the file goes
    assert not big.path.exists() and store.open("bkt", "big")[1].read() == b"now small"
    assert [o.key for o in store.list_keys("bkt").contents] == ["big", "copy", "small"]
    store.delete("bkt", "small")
    assert store.sweep() == 0


def test_writer_chunks_hash_in_one_pass(tmp_path: Path) -> None:
    """Large bodies arrive as lists of received chunks: each is hashed and written as it came, no joining."""
    import os
    import zlib

    chunks = [os.urandom(n) for n in (1, 256_000, 70_000, 3, 1 << 20, 65_536)] * 3
    whole = b"".join(chunks)
    w = st.ObjectWriter(tmp_path, checksums=["CRC32"], sha256=True)
    w.write_chunks(chunks[:1])
    # batches at and above PARALLEL_MD5_MIN have their MD5 on another thread: several in a row must stay in order
    for lo, hi in ((1, 6), (6, 12), (12, 18)):
        assert sum(map(len, chunks[lo:hi])) >= st.PARALLEL_MD5_MIN
        w.write_chunks(chunks[lo:hi])
    path = w.finish()
    assert path.read_bytes() == whole and w.size == len(whole)
    assert w.etag == hashlib.md5(whole).hexdigest() and w.sha256 is not None
    assert w.sha256.hexdigest() == hashlib.sha256(whole).hexdigest()
    assert w.sums["CRC32"].digest() == zlib.crc32(whole).to_bytes(4, "big")
