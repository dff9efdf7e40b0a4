"""S3 buckets and objects on the secondary image store.

Layout under the store root (an ImageStore's ``local_path``, or ``<state_dir>/objects`` while the cloud has none)::

    buckets/.index.sqlite3              the object index (buckets, objects, versions, multipart uploads, parts)
    buckets/<bucket>/<xx>/<uuid>        object data, one immutable file per written version
    buckets/<bucket>/<xx>/.tmp-<uuid>   a data file being written (garbage after a crash)
    buckets/.uploads/<upload id>/<part number>.<uuid>   multipart parts until Complete/Abort

Why an SQLite index rather than a metadata sidecar per object: S3 keys are up to 1024 bytes of arbitrary UTF-8 (too
long for a file name, and ``a`` and ``a/b`` may both exist), listings are ordered range scans with prefix, marker and
delimiter (an indexed ``key >= ? AND key < ?`` query instead of walking and sorting a directory tree), and the commit
of an object is ONE row write, so data and metadata can never disagree.

Atomicity: a PUT streams into ``.tmp-<uuid>`` in the bucket's directory while hashing, fdatasyncs it (with
write-behind for large bodies), renames it to its final unique name, fsyncs the directory, and only then commits the
index row (WAL). A crash before the commit leaves an unreferenced file that :meth:`ObjectStore.sweep` removes at
start; the previous version stays readable until the new row is committed. Data files are never modified after the
rename, so CopyObject is a hard link.

Small objects (``INLINE_MAX``, 64 KiB) are stored IN their index row instead of a file: the row commit is then the
whole write, atomic by SQLite's journal, with no per-object fsync. The index runs WAL with synchronous=NORMAL: a
process crash (kill -9) never loses a committed row; a power cut may roll back the last commits, but never leaves a
torn object or a row whose file is missing (files are synced before their row is written). ``inline_max=0`` makes
every object a file.

Versions: ``objects`` holds the current version of every key whose latest version is not a delete marker (the
listing of a bucket is a range scan of it, as before versioning). Every other version, and every delete marker,
is a row of ``versions`` ordered by ``seq`` (a store-wide counter, larger = newer, assigned inside the write
transaction so it follows commit order). Overwriting or deleting in a versioned bucket moves the current row into
``versions`` in the same transaction that writes the new row, so a version is always wholly in one table or the
other; the crash argument above holds unchanged. The null version (``version`` NULL) is what unversioned and
suspended buckets write. Version ids are 32 hex digits: the seq, then random ones.

Access settings (versioning status, ACL, policy, public access block, ownership controls) are columns of the
bucket's row; an object's ACL (with its owner) is a column of its version's row, NULL meaning "owned by the
bucket owner, private".
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INDEX = ".index.sqlite3"
UPLOADS = ".uploads"
TMP_PREFIX = ".tmp-"
MIN_PART = 5 * 1024 * 1024
FLUSH_BEHIND = 8 * 1024 * 1024
PARALLEL_MD5_MIN = 1 << 20  # below this a second thread costs more than it saves
INLINE_MAX = 64 * 1024  # objects up to this size live in their index row (see the module docstring)
OBJ_COLS = "bucket, key, data, size, etag, mtime, ctype, headers, meta, checksums, parts, inline, seq, version, acl"
VER_COLS = OBJ_COLS + ", marker"
BUCKET_COLS = "name, owner, owner_name, region, created, versioning, acl, policy, pab, ownership"
BUCKET_SETTINGS = ("versioning", "acl", "policy", "pab", "ownership")
ENABLED, SUSPENDED = "Enabled", "Suspended"
NULL_VERSION = "null"
COMPLETED_TTL = 24 * 3600  # a finished multipart upload answers a repeated Complete this long
_VERSION_RE = re.compile(r"^[0-9a-f]{32}$")
CHECKSUM_ALGOS = ("CRC32", "CRC32C", "SHA1", "SHA256")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, owner TEXT NOT NULL, owner_name TEXT NOT NULL,
    region TEXT NOT NULL, created REAL NOT NULL, versioning TEXT, acl TEXT, policy TEXT, pab TEXT, ownership TEXT);
CREATE TABLE IF NOT EXISTS objects (bucket TEXT NOT NULL, key BLOB NOT NULL, data TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, mtime REAL NOT NULL, ctype TEXT, headers TEXT NOT NULL, meta TEXT NOT NULL,
    checksums TEXT NOT NULL, parts TEXT, inline BLOB, seq INTEGER, version TEXT, acl TEXT,
    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (bucket TEXT NOT NULL, key BLOB NOT NULL, data TEXT NOT NULL,
    size INTEGER NOT NULL, etag TEXT NOT NULL, mtime REAL NOT NULL, ctype TEXT, headers TEXT NOT NULL,
    meta TEXT NOT NULL, checksums TEXT NOT NULL, parts TEXT, inline BLOB, seq INTEGER NOT NULL, version TEXT,
    acl TEXT, marker INTEGER NOT NULL, PRIMARY KEY (bucket, key, seq DESC)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, owner TEXT NOT NULL,
    initiated REAL NOT NULL, ctype TEXT, headers TEXT NOT NULL, meta TEXT NOT NULL, algo TEXT, acl TEXT);
CREATE INDEX IF NOT EXISTS uploads_bucket ON uploads (bucket, key, initiated);
CREATE TABLE IF NOT EXISTS parts (upload TEXT NOT NULL, num INTEGER NOT NULL, file TEXT NOT NULL,
    etag TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL, checksum TEXT, PRIMARY KEY (upload, num))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS completed (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL,
    etag TEXT NOT NULL, version TEXT, checksums TEXT NOT NULL, done REAL NOT NULL);
"""
# columns added since the first release of the index, in table order (older stores get them on open)
_ADDED_COLUMNS = {
    "buckets": ("versioning TEXT", "acl TEXT", "policy TEXT", "pab TEXT", "ownership TEXT"),
    "objects": ("inline BLOB", "seq INTEGER", "version TEXT", "acl TEXT"),
    "uploads": ("acl TEXT",),
}



# ------------------------------------------------------------------------------------------------ errors

class ObjectStoreError(Exception):
    """Base class; ``code`` is the S3 error code the API layer answers with."""

    code = "InternalError"

    def __init__(self, message: str = "", **extra: Any) -> None:
        super().__init__(message or self.code)
        self.extra = extra


class NoSuchBucket(ObjectStoreError):
    code = "NoSuchBucket"


class BucketExists(ObjectStoreError):
    code = "BucketAlreadyExists"

    def __init__(self, owner: str) -> None:
        super().__init__("bucket exists")
        self.owner = owner


class BucketNotEmpty(ObjectStoreError):
    code = "BucketNotEmpty"


class NoSuchKey(ObjectStoreError):
    code = "NoSuchKey"


class NoSuchUpload(ObjectStoreError):
    code = "NoSuchUpload"


class InvalidPart(ObjectStoreError):
    code = "InvalidPart"


class InvalidPartOrder(ObjectStoreError):
    code = "InvalidPartOrder"


class EntityTooSmall(ObjectStoreError):
    code = "EntityTooSmall"


class NoSuchVersion(ObjectStoreError):
    code = "NoSuchVersion"


class PreconditionFailed(ObjectStoreError):
    """A conditional write (If-Match / If-None-Match) found another current version."""

    code = "PreconditionFailed"


class VersionIsDeleteMarker(ObjectStoreError):
    """The version asked for is a delete marker, which has no content (S3: 405 MethodNotAllowed)."""

    code = "MethodNotAllowed"

    def __init__(self, version: str) -> None:
        super().__init__("The specified method is not allowed against this resource.")
        self.version = version


class KeyIsDeleted(NoSuchKey):
    """No current version: the latest version of the key is a delete marker (``version`` is its id)."""

    def __init__(self, version: str) -> None:
        super().__init__("the latest version is a delete marker")
        self.version = version


# ------------------------------------------------------------------------------------------------ hashing

def crc32c(data: bytes | memoryview, value: int = 0) -> int:
    return _crc32c_impl(data, value)


def _make_crc32c() -> Any:
    try:
        import crc32c as _mod  # PyPI `crc32c` (C implementation)

        return lambda data, value=0: _mod.crc32c(data, value)
    except ImportError:  # pragma: no cover - depends on the environment
        pass
    try:
        import google_crc32c as _g  # pragma: no cover

        return lambda data, value=0: _g.extend(value, bytes(data))  # pragma: no cover
    except ImportError:  # pragma: no cover
        pass
    table = []  # pragma: no cover - pure Python fallback
    for i in range(256):  # pragma: no cover
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)

    def slow(data: bytes | memoryview, value: int = 0) -> int:  # pragma: no cover
        c = value ^ 0xFFFFFFFF
        for b in bytes(data):
            c = table[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF

    return slow


_crc32c_impl = _make_crc32c()


class Checksummer:
    """Incremental CRC32/CRC32C/SHA1/SHA256; ``b64()`` is the value S3 sends in x-amz-checksum-*."""

    def __init__(self, algo: str) -> None:
        self.algo = algo.upper()
        if self.algo not in CHECKSUM_ALGOS:
            raise ValueError(f"unsupported checksum algorithm {algo}")
        self._crc = 0
        self._h = hashlib.sha1() if self.algo == "SHA1" else hashlib.sha256() if self.algo == "SHA256" else None

    def update(self, data: bytes | memoryview) -> None:
        if self._h is not None:
            self._h.update(data)
        elif self.algo == "CRC32":
            self._crc = zlib.crc32(data, self._crc)
        else:
            self._crc = crc32c(data, self._crc)

    def digest(self) -> bytes:
        return self._h.digest() if self._h is not None else self._crc.to_bytes(4, "big")

    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode()


def checksum_of(algo: str, data: bytes) -> str:
    c = Checksummer(algo)
    c.update(data)
    return c.b64()


# ------------------------------------------------------------------------------------------------ records

@dataclass(slots=True)
class Bucket:
    name: str
    owner: str
    owner_name: str
    region: str
    created: float
    versioning: str | None = None  # None (never enabled), "Enabled" or "Suspended"
    acl: str | None = None  # JSON (see management.api.s3.access), None: private
    policy: str | None = None  # the policy document as the owner sent it
    pab: str | None = None  # public access block settings, JSON
    ownership: str | None = None  # ObjectOwnership setting, None: no ownership controls


@dataclass(slots=True)
class ObjectInfo:
    bucket: str
    key: str
    path: Path
    size: int
    etag: str  # hex, no quotes; multipart: "<hex>-<n>"
    mtime: float
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # content-encoding, cache-control, ...
    meta: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* without the prefix
    checksums: dict[str, str] = field(default_factory=dict)  # algo -> base64 (multipart: "<b64>-<n>")
    parts: list[int] | None = None  # part sizes of a multipart object
    inline: bytes | None = None  # the content of a small object kept in its index row (then ``path`` is unused)
    version: str = NULL_VERSION  # version id, "null" for the null version
    seq: int = 0
    acl: str | None = None  # JSON: owner and grants; None: the bucket owner's, private
    marker: bool = False  # a delete marker (no content)
    latest: bool = True


@dataclass(slots=True)
class Upload:
    id: str
    bucket: str
    key: str
    owner: str
    initiated: float
    content_type: str | None
    headers: dict[str, str]
    meta: dict[str, str]
    algo: str | None
    acl: str | None = None  # the ACL (with owner) the completed object gets


@dataclass(slots=True)
class Part:
    num: int
    etag: str
    size: int
    mtime: float
    checksum: str | None
    file: str = ""


@dataclass(slots=True)
class Listing:
    contents: list[ObjectInfo]
    prefixes: list[str]
    truncated: bool
    last: str | None  # the last key or common prefix returned (the resume point)


@dataclass(slots=True)
class VersionListing:
    entries: list[ObjectInfo]  # versions and delete markers, by key then newest first
    prefixes: list[str]
    truncated: bool
    next_key: str | None
    next_version: str | None


@dataclass(slots=True)
class Deleted:
    """What a delete did: the version removed or the delete marker created (None: unversioned bucket)."""

    version: str | None
    marker: bool


def new_version_id(seq: int) -> str:
    return f"{seq:016x}{secrets.token_hex(8)}"


def valid_version_id(value: str) -> bool:
    return value == NULL_VERSION or bool(_VERSION_RE.match(value))


def _vcol(version: str) -> str | None:
    """The column value of a version id ("null" is stored as NULL)."""
    return None if version == NULL_VERSION else version


def prefix_successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string that starts with prefix (None: no upper bound)."""
    p = bytearray(prefix)
    while p and p[-1] == 0xFF:
        p.pop()
    if not p:
        return None
    p[-1] += 1
    return bytes(p)


# ------------------------------------------------------------------------------------------------ writer

class ObjectWriter:
    """Streams a body to a temporary file in the destination directory while computing MD5 (+ checksums)."""

    def __init__(self, directory: Path, *, checksums: Iterable[str] = (), sha256: bool = False,
                 inline_max: int = 0) -> None:
        self.directory = directory
        self.name = uuid.uuid4().hex
        self.tmp = directory / (TMP_PREFIX + self.name)
        self.inline_max = inline_max
        self.buffer = bytearray()
        self._fh: Any = None
        if not inline_max:
            self._open()
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256() if sha256 else None
        self.sums = {a.upper(): Checksummer(a) for a in checksums}
        self.size = 0
        self.final: Path | None = None
        self._unflushed = 0
        self._flusher: threading.Thread | None = None

    def add_checksum(self, algo: str) -> None:
        """Starts another checksum; only valid before any byte was written."""
        if algo.upper() not in self.sums:
            if self.size:
                raise ValueError("checksum requested after data")
            self.sums[algo.upper()] = Checksummer(algo)

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.tmp, "wb", buffering=0)  # noqa: SIM115 - closed in finish/discard
        if self.buffer:
            self._fh.write(self.buffer)
            self.buffer = bytearray()

    @property
    def is_inline(self) -> bool:
        """Still (and finally) small enough to live in the index row: no file was ever created."""
        return self._fh is None and self.final is None

    def enable_sha256(self) -> None:
        if self.sha256 is None:
            if self.size:
                raise ValueError("sha256 requested after data")
            self.sha256 = hashlib.sha256()

    def write(self, data: bytes | memoryview) -> None:
        self.md5.update(data)
        self._write_rest(data)

    def _write_rest(self, data: bytes | memoryview) -> None:
        """Everything ``write`` does but MD5."""
        if self.sha256 is not None:
            self.sha256.update(data)
        for c in self.sums.values():
            c.update(data)
        if self._fh is None:
            if len(self.buffer) + len(data) <= self.inline_max:
                self.buffer += data
                self.size += len(data)
                return
            self._open()
        view = memoryview(data)
        while view:
            n = self._fh.write(view)
            view = view[n:]
        self.size += len(data)
        self._unflushed += len(data)
        self._maybe_flush_behind()

    def write_chunks(self, chunks: list[bytes]) -> None:
        """Appends received pieces as they came (no joining copy). A large batch has its MD5 (the ETag, the
        costliest digest: ~90 ms per 64 MiB here) computed on a second thread while this one runs the other digests
        and the file write; hashlib lets go of the GIL for both. Batches stay in order: this returns only when both
        halves are done."""
        if sum(len(c) for c in chunks) < PARALLEL_MD5_MIN:
            for c in chunks:
                self.write(c)
            return
        md5 = _md5_pool().submit(_md5_update, self.md5, chunks)
        try:
            for c in chunks:
                self._write_rest(c)
        finally:
            md5.result()

    def _maybe_flush_behind(self) -> None:
        if self._unflushed >= FLUSH_BEHIND and (self._flusher is None or not self._flusher.is_alive()):
            # Write-behind: let a helper thread push what is written so far to disk while more arrives, so the
            # final fdatasync of a large object only waits for the tail.
            self._unflushed = 0
            self._flusher = threading.Thread(target=_quiet_fdatasync, args=(self._fh.fileno(),), daemon=True)
            self._flusher.start()

    def finish(self, fsync: bool = True) -> Path:
        """Flushes and renames the data to its final (unique) name; returns that path."""
        if self._flusher is not None:
            self._flusher.join()
        if self._fh is None:
            self._open()
        if fsync:
            os.fdatasync(self._fh.fileno())
        self._fh.close()
        final = self.directory / self.name
        os.replace(self.tmp, final)
        if fsync:
            fsync_dir(self.directory)
        self.final = final
        return final

    def discard(self) -> None:
        if self._flusher is not None:
            self._flusher.join()
        with contextlib.suppress(Exception):
            if self._fh is not None:
                self._fh.close()
        if self._fh is None and self.final is None:
            return
        for p in (self.tmp, self.final):
            if p is not None:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    @property
    def etag(self) -> str:
        return self.md5.hexdigest()


def _md5_update(md5: Any, chunks: list[bytes]) -> None:
    for c in chunks:
        md5.update(c)


@functools.cache
def _md5_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3-md5")


def _quiet_fdatasync(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.fdatasync(fd)


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy_range(src: Path, dst_fh: Any, offset: int, length: int) -> None:
    with open(src, "rb") as s:
        done = 0
        while done < length:
            try:
                n = os.copy_file_range(s.fileno(), dst_fh.fileno(), length - done, offset + done)
            except OSError:
                n = 0
            if n == 0:  # not supported (or EOF): fall back to read/write
                s.seek(offset + done)
                while done < length:
                    buf = s.read(min(4 << 20, length - done))
                    if not buf:
                        raise OSError("source shorter than expected")
                    dst_fh.write(buf)
                    done += len(buf)
                return
            done += n

ALL_OF_KEY = 1 << 63  # a listing position before every version of a key (seqs are smaller)
MAX_SEQ = (1 << 63) - 1
UPLOAD_COLS = "id, bucket, key, owner, initiated, ctype, headers, meta, algo, acl"


def _upload(row: tuple[Any, ...]) -> Upload:
    return Upload(row[0], row[1], bytes(row[2]).decode("utf-8"), row[3], row[4], row[5], json.loads(row[6]),
                  json.loads(row[7]), row[8], row[9])


def _resume_point(pb: bytes, dl: bytes, after: str | None) -> tuple[bytes, bool] | None:
    """Where a listing under prefix ``pb`` resumes after the key (or common prefix) ``after``: (key, inclusive);
    None when nothing can follow."""
    cursor = (pb, True)
    if after is None:
        return cursor
    ab = after.encode("utf-8")
    incl = False
    if dl and ab.startswith(pb):
        i = ab.find(dl, len(pb))
        if i >= 0 and i + len(dl) == len(ab):  # resuming after a common prefix: skip everything under it
            succ = prefix_successor(ab)
            if succ is None:
                return None
            ab, incl = succ, True
    if ab > cursor[0] or (ab == cursor[0] and not incl):
        cursor = (ab, incl)
    return cursor


# ------------------------------------------------------------------------------------------------ the store

class ObjectStore:
    """Buckets and objects under ``<root>/buckets``; safe to use from many threads of one process."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True, inline_max: int = INLINE_MAX) -> None:
        self.root = Path(root)
        self.base = self.root / "buckets"
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / UPLOADS).mkdir(exist_ok=True)
        self.fsync = fsync
        self.inline_max = inline_max
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._buckets: dict[str, Bucket] = {}  # this process is the only writer of the index
        db = self._conn()
        db.executescript(_SCHEMA)
        for table, added in _ADDED_COLUMNS.items():
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            for decl in added:
                if decl.split()[0] not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {decl}")
        self._seq = max(db.execute("SELECT COALESCE(MAX(seq), 0) FROM objects").fetchone()[0],
                        db.execute("SELECT COALESCE(MAX(seq), 0) FROM versions").fetchone()[0])

    # ---- database -------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.base / INDEX, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a process crash never loses a commit
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _next_seq(self) -> int:
        """The next version sequence number; call inside a write transaction (which orders the callers)."""
        with self._lock:
            self._seq = max(self._seq + 1, time.time_ns())
            return self._seq

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                with contextlib.suppress(Exception):
                    c.close()
            self._all.clear()
        self._local = threading.local()

    def _unlink(self, bucket: str, rels: Iterable[str]) -> None:
        for rel in rels:
            if rel:
                with contextlib.suppress(FileNotFoundError):
                    (self.base / bucket / rel).unlink()

    # ---- housekeeping -----------------------------------------------------------------------------------------
    def sweep(self) -> int:
        """Removes what a crash left: temp files, data files no row references, staging of vanished uploads."""
        db = self._conn()
        removed = 0
        buckets = {r[0] for r in db.execute("SELECT name FROM buckets")}
        for entry in self.base.iterdir():
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if entry.name not in buckets:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
                continue
            referenced = {r[0] for r in db.execute("SELECT data FROM objects WHERE bucket = ? UNION "
                                                   "SELECT data FROM versions WHERE bucket = ?",
                                                   (entry.name, entry.name))}
            for sub in entry.iterdir():
                if not sub.is_dir():
                    continue
                for f in sub.iterdir():
                    rel = f"{sub.name}/{f.name}"
                    if f.name.startswith(TMP_PREFIX) or rel not in referenced:
                        with contextlib.suppress(OSError):
                            f.unlink()
                            removed += 1
        uploads = {r[0]: None for r in db.execute("SELECT id FROM uploads")}
        part_files = {(r[0], r[1]) for r in db.execute("SELECT upload, file FROM parts")}
        for d in (self.base / UPLOADS).iterdir():
            if d.name not in uploads:
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
                continue
            for f in d.iterdir():
                if (d.name, f.name) not in part_files:
                    with contextlib.suppress(OSError):
                        f.unlink()
                        removed += 1
        with self._tx() as tx:
            tx.execute("DELETE FROM completed WHERE done < ?", (time.time() - COMPLETED_TTL,))
        return removed

    # ---- buckets ----------------------------------------------------------------------------------------------
    def create_bucket(self, name: str, owner: str, owner_name: str, region: str, *, acl: str | None = None,
                      ownership: str | None = None) -> Bucket:
        with self._tx() as db:
            row = db.execute("SELECT owner FROM buckets WHERE name = ?", (name,)).fetchone()
            if row is not None:
                raise BucketExists(row[0])
            created = time.time()
            db.execute(f"INSERT INTO buckets ({BUCKET_COLS}) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, NULL, ?)",
                       (name, owner, owner_name, region, created, acl, ownership))
        self._forget(name)
        (self.base / name).mkdir(exist_ok=True)
        return Bucket(name, owner, owner_name, region, created, acl=acl, ownership=ownership)

    def bucket(self, name: str) -> Bucket | None:
        try:
            return self._buckets[name]
        except KeyError:
            pass
        row = self._conn().execute(f"SELECT {BUCKET_COLS} FROM buckets WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None  # negative answers are not cached: a create may be committing right now
        b = Bucket(*row)
        with self._lock:
            if len(self._buckets) > 10000:
                self._buckets.clear()
            self._buckets[name] = b
        return b

    def cached_bucket(self, name: str) -> Bucket | None:
        """The bucket if it is in the in-memory cache (no I/O; None means "ask :meth:`bucket`")."""
        return self._buckets.get(name)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._buckets.pop(name, None)

    def set_bucket(self, name: str, **settings: str | None) -> Bucket:
        """Sets access settings of a bucket (``versioning``, ``acl``, ``policy``, ``pab``, ``ownership``)."""
        if not settings or not set(settings) <= set(BUCKET_SETTINGS):
            raise ValueError(f"not bucket settings: {sorted(settings)}")
        cols = ", ".join(f"{k} = ?" for k in settings)
        with self._tx() as db:
            if db.execute(f"UPDATE buckets SET {cols} WHERE name = ?", (*settings.values(), name)).rowcount == 0:
                raise NoSuchBucket()
        self._forget(name)
        b = self.bucket(name)
        if b is None:
            raise NoSuchBucket()
        return b

    def buckets(self, owner: str | None = None) -> list[Bucket]:
        if owner is None:
            rows = self._conn().execute(f"SELECT {BUCKET_COLS} FROM buckets ORDER BY name").fetchall()
        else:
            rows = self._conn().execute(f"SELECT {BUCKET_COLS} FROM buckets WHERE owner = ? ORDER BY name",
                                        (owner,)).fetchall()
        return [Bucket(*r) for r in rows]

    def delete_bucket(self, name: str) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
                raise NoSuchBucket()
            for table in ("objects", "versions"):  # old versions and delete markers keep a bucket too
                if db.execute(f"SELECT 1 FROM {table} WHERE bucket = ? LIMIT 1", (name,)).fetchone() is not None:
                    raise BucketNotEmpty()
            ups = [r[0] for r in db.execute("SELECT id FROM uploads WHERE bucket = ?", (name,))]
            for u in ups:
                db.execute("DELETE FROM parts WHERE upload = ?", (u,))
            db.execute("DELETE FROM uploads WHERE bucket = ?", (name,))
            db.execute("DELETE FROM completed WHERE bucket = ?", (name,))
            db.execute("DELETE FROM buckets WHERE name = ?", (name,))
        self._forget(name)
        for u in ups:
            shutil.rmtree(self.base / UPLOADS / u, ignore_errors=True)
        shutil.rmtree(self.base / name, ignore_errors=True)

    @staticmethod
    def _mode(db: sqlite3.Connection, bucket: str) -> str | None:
        """The bucket's versioning status inside a transaction; raises NoSuchBucket."""
        row = db.execute("SELECT versioning FROM buckets WHERE name = ?", (bucket,)).fetchone()
        if row is None:
            raise NoSuchBucket()
        return row[0]  # type: ignore[no-any-return]

    # ---- objects ----------------------------------------------------------------------------------------------
    def writer(self, bucket: str, *, checksums: Iterable[str] = (), sha256: bool = False) -> ObjectWriter:
        return ObjectWriter(self.base / bucket / uuid.uuid4().hex[:2], checksums=checksums, sha256=sha256,
                            inline_max=self.inline_max)

    def _row_to_info(self, row: tuple[Any, ...], *, latest: bool = True) -> ObjectInfo:
        (bucket, key, data, size, etag, mtime, ctype, headers, meta, checksums, parts, inline, seq, version,
         acl) = row[:15]
        marker = bool(row[15]) if len(row) > 15 else False
        blob = bytes(inline) if inline is not None else (b"" if not data and not marker else None)
        return ObjectInfo(bucket, bytes(key).decode("utf-8"), self.base / bucket / data, size, etag, mtime, ctype,
                          json.loads(headers), json.loads(meta), json.loads(checksums),
                          json.loads(parts) if parts else None, blob, version or NULL_VERSION, seq or 0, acl, marker,
                          latest)

    def commit(self, bucket: str, key: str, w: ObjectWriter, *, content_type: str | None = None,
               headers: dict[str, str] | None = None, meta: dict[str, str] | None = None,
               checksums: dict[str, str] | None = None, etag: str | None = None,
               parts: list[int] | None = None, acl: str | None = None,
               condition: tuple[str, str] | None = None) -> ObjectInfo:
        """Makes a finished writer's content the object's content (the single commit point).

        ``condition`` is (If-Match, If-None-Match) as sent: checked against the current version in the same
        transaction as the write.
        """
        sums = checksums if checksums is not None else {a: c.b64() for a, c in w.sums.items()}
        if w.is_inline:
            return self._commit_row(bucket, key, "", w.size, etag or w.etag, content_type, headers or {}, meta or {},
                                    sums, parts, cleanup=[], inline=bytes(w.buffer), acl=acl, condition=condition)
        final = w.final or w.finish(self.fsync)
        rel = f"{final.parent.name}/{final.name}"
        return self._commit_row(bucket, key, rel, w.size, etag or w.etag, content_type, headers or {}, meta or {},
                                sums, parts, cleanup=[final], acl=acl, condition=condition)

    @staticmethod
    def check_condition(current: tuple[str] | None, condition: tuple[str, str]) -> None:
        """If-Match / If-None-Match of a write against the current version's ETag (None: there is none)."""
        if_match, if_none_match = condition
        etag = current[0] if current is not None else None
        if if_none_match and etag is not None and (
                if_none_match.strip() == "*" or etag in {t.strip().strip('"') for t in if_none_match.split(",")}):
            raise PreconditionFailed(Condition="If-None-Match")
        if if_match:
            if etag is None:
                raise NoSuchKey()
            if if_match.strip() != "*" and etag not in {t.strip().strip('"') for t in if_match.split(",")}:
                raise PreconditionFailed(Condition="If-Match")

    def _demote(self, db: sqlite3.Connection, bucket: str, kb: bytes) -> None:
        """Moves the current version of a key (if any) among the noncurrent ones."""
        db.execute(f"INSERT INTO versions ({VER_COLS}) SELECT bucket, key, data, size, etag, mtime, ctype, headers, "
                   "meta, checksums, parts, inline, COALESCE(seq, 0), version, acl, 0 FROM objects "
                   "WHERE bucket = ? AND key = ?", (bucket, kb))
        db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, kb))

    @staticmethod
    def _drop_null_versions(db: sqlite3.Connection, bucket: str, kb: bytes) -> list[str]:
        """Removes the noncurrent null version (or null delete marker) of a key; returns its data file."""
        rows = db.execute("SELECT data FROM versions WHERE bucket = ? AND key = ? AND version IS NULL",
                          (bucket, kb)).fetchall()
        if rows:
            db.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND version IS NULL", (bucket, kb))
        return [r[0] for r in rows]

    def _commit_row(self, bucket: str, key: str, rel: str, size: int, etag: str, content_type: str | None,
                    headers: dict[str, str], meta: dict[str, str], checksums: dict[str, str],
                    parts: list[int] | None, cleanup: list[Path], upload: str | None = None,
                    inline: bytes | None = None, acl: str | None = None,
                    condition: tuple[str, str] | None = None) -> ObjectInfo:
        kb = key.encode("utf-8")
        mtime = time.time()
        drop: list[str] = []  # data files no row references once the transaction commits
        try:
            with self._tx() as db:
                mode = self._mode(db, bucket)
                if upload is not None:
                    if db.execute("SELECT 1 FROM uploads WHERE id = ?", (upload,)).fetchone() is None:
                        raise NoSuchUpload()
                    db.execute("DELETE FROM parts WHERE upload = ?", (upload,))
                    db.execute("DELETE FROM uploads WHERE id = ?", (upload,))
                cur = db.execute("SELECT data, version FROM objects WHERE bucket = ? AND key = ?",
                                 (bucket, kb)).fetchone()
                if condition is not None:
                    self.check_condition(db.execute("SELECT etag FROM objects WHERE bucket = ? AND key = ?",
                                                    (bucket, kb)).fetchone(), condition)
                seq = self._next_seq()
                version = new_version_id(seq) if mode == ENABLED else None
                if cur is not None:
                    if mode is None or (mode == SUSPENDED and cur[1] is None):
                        drop.append(cur[0])  # replaced: the null version is overwritten
                    else:
                        self._demote(db, bucket, kb)
                if mode == SUSPENDED:
                    drop += self._drop_null_versions(db, bucket, kb)
                db.execute(f"INSERT OR REPLACE INTO objects ({OBJ_COLS}) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (bucket, kb, rel, size, etag, mtime, content_type, json.dumps(headers), json.dumps(meta),
                            json.dumps(checksums), json.dumps(parts) if parts else None, inline, seq, version, acl))
                if upload is not None:
                    db.execute("INSERT OR REPLACE INTO completed VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (upload, bucket, kb, etag, version, json.dumps(checksums), mtime))
        except BaseException:
            for p in cleanup:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            raise
        self._unlink(bucket, (d for d in drop if d != rel))
        return ObjectInfo(bucket, key, self.base / bucket / rel, size, etag, mtime, content_type, headers, meta,
                          checksums, parts, inline, version or NULL_VERSION, seq, acl)

    def get(self, bucket: str, key: str, version: str | None = None) -> ObjectInfo:
        """The current version of a key, or the given version (which may be a delete marker)."""
        db = self._conn()
        kb = key.encode("utf-8")
        if version is not None:
            return self._get_version(db, bucket, kb, version)
        row = db.execute(f"SELECT {OBJ_COLS} FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone()
        if row is None:
            if self.bucket(bucket) is None:
                raise NoSuchBucket()
            top = db.execute("SELECT version, marker FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC "
                             "LIMIT 1", (bucket, kb)).fetchone()
            if top is not None and top[1]:
                raise KeyIsDeleted(top[0] or NULL_VERSION)
            raise NoSuchKey()
        return self._row_to_info(row)

    def _get_version(self, db: sqlite3.Connection, bucket: str, kb: bytes, version: str) -> ObjectInfo:
        vcol = _vcol(version)
        row = db.execute(f"SELECT {OBJ_COLS} FROM objects WHERE bucket = ? AND key = ? AND version IS ?",
                         (bucket, kb, vcol)).fetchone()
        if row is not None:
            return self._row_to_info(row)
        if vcol is None:
            row = db.execute(f"SELECT {VER_COLS} FROM versions WHERE bucket = ? AND key = ? AND version IS NULL",
                             (bucket, kb)).fetchone()
        elif _VERSION_RE.match(vcol):
            row = db.execute(f"SELECT {VER_COLS} FROM versions WHERE bucket = ? AND key = ? AND seq = ? AND "
                             "version = ?", (bucket, kb, int(vcol[:16], 16), vcol)).fetchone()
        if row is None:
            if self.bucket(bucket) is None:
                raise NoSuchBucket()
            raise NoSuchVersion(VersionId=version)
        latest = db.execute("SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone() is None \
            and db.execute("SELECT 1 FROM versions WHERE bucket = ? AND key = ? AND seq > ? LIMIT 1",
                           (bucket, kb, row[12])).fetchone() is None
        return self._row_to_info(row, latest=latest)

    def open(self, bucket: str, key: str, version: str | None = None) -> tuple[ObjectInfo, Any]:
        """The version's info and an open file (None for a delete marker): a concurrent overwrite (or removal
        of a version) can unlink the file between the two, so retry."""
        for _ in range(3):
            info = self.get(bucket, key, version)
            if info.marker:
                return info, None
            if info.inline is not None:
                return info, io.BytesIO(info.inline)
            try:
                return info, open(info.path, "rb")  # noqa: SIM115 - the caller closes it
            except FileNotFoundError:
                continue
        raise NoSuchKey()

    def update(self, bucket: str, key: str, version: str | None = None, *, headers: dict[str, str] | None = None,
               acl: str | None = None, set_acl: bool = False) -> ObjectInfo:
        """Replaces the stored headers (content-*, tagging) and/or the ACL of a version without touching its data."""
        kb = key.encode("utf-8")
        with self._tx() as db:
            info = self.get(bucket, key, version)
            if info.marker:
                raise VersionIsDeleteMarker(info.version)
            sets: list[str] = []
            args: list[Any] = []
            if headers is not None:
                sets.append("headers = ?")
                args.append(json.dumps(headers))
            if set_acl:
                sets.append("acl = ?")
                args.append(acl)
            for table in ("objects", "versions") if sets else ():
                if db.execute(f"UPDATE {table} SET {', '.join(sets)} WHERE bucket = ? AND key = ? AND "
                              "COALESCE(seq, 0) = ?", (*args, bucket, kb, info.seq)).rowcount:
                    break
        if headers is not None:
            info.headers = headers
        if set_acl:
            info.acl = acl
        return info

    def set_headers(self, bucket: str, key: str, headers: dict[str, str], version: str | None = None) -> None:
        self.update(bucket, key, version, headers=headers)

    def _promote(self, db: sqlite3.Connection, bucket: str, kb: bytes) -> None:
        """With no current version, the newest noncurrent one becomes current (unless it is a delete marker)."""
        if db.execute("SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone() is not None:
            return
        top = db.execute("SELECT seq, marker FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1",
                         (bucket, kb)).fetchone()
        if top is None or top[1]:
            return
        db.execute(f"INSERT INTO objects ({OBJ_COLS}) SELECT {OBJ_COLS} FROM versions WHERE bucket = ? AND key = ? "
                   "AND seq = ?", (bucket, kb, top[0]))
        db.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, kb, top[0]))

    def delete(self, bucket: str, key: str, version: str | None = None, *, marker_acl: str | None = None) -> Deleted:
        """DeleteObject: removes the given version for good, or (no version) deletes the key the way the
        bucket's versioning status says: unversioned, the object goes; versioned, a delete marker is added."""
        kb = key.encode("utf-8")
        drop: list[str] = []
        with self._tx() as db:
            mode = self._mode(db, bucket)
            if version is not None:
                out = self._delete_version(db, bucket, kb, version, drop)
            elif mode is None:
                row = db.execute("SELECT data FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone()
                if row is not None:
                    db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, kb))
                    drop.append(row[0])
                out = Deleted(None, False)
            else:
                seq = self._next_seq()
                vid = new_version_id(seq) if mode == ENABLED else None
                cur = db.execute("SELECT data, version FROM objects WHERE bucket = ? AND key = ?",
                                 (bucket, kb)).fetchone()
                if mode == SUSPENDED:
                    drop += self._drop_null_versions(db, bucket, kb)
                    if cur is not None and cur[1] is None:
                        db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, kb))
                        drop.append(cur[0])
                        cur = None
                if cur is not None:
                    self._demote(db, bucket, kb)
                db.execute(f"INSERT INTO versions ({VER_COLS}) VALUES "
                           "(?, ?, '', 0, '', ?, NULL, '{}', '{}', '{}', NULL, NULL, ?, ?, ?, 1)",
                           (bucket, kb, time.time(), seq, vid, marker_acl))
                out = Deleted(vid or NULL_VERSION, True)
        self._unlink(bucket, drop)
        return out

    def _delete_version(self, db: sqlite3.Connection, bucket: str, kb: bytes, version: str,
                        drop: list[str]) -> Deleted:
        vcol = _vcol(version)
        cur = db.execute("SELECT data FROM objects WHERE bucket = ? AND key = ? AND version IS ?",
                         (bucket, kb, vcol)).fetchone()
        if cur is not None:
            db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, kb))
            drop.append(cur[0])
            self._promote(db, bucket, kb)
            return Deleted(version, False)
        rows = db.execute("SELECT seq, data, marker FROM versions WHERE bucket = ? AND key = ? AND version IS ?",
                          (bucket, kb, vcol)).fetchall()
        marker = False
        for seq, data, is_marker in rows:
            db.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, kb, seq))
            drop.append(data)
            marker = marker or bool(is_marker)
        if rows:
            self._promote(db, bucket, kb)
        return Deleted(version, marker)

    def copy(self, src: ObjectInfo, bucket: str, key: str, *, content_type: str | None, headers: dict[str, str],
             meta: dict[str, str], acl: str | None = None, condition: tuple[str, str] | None = None) -> ObjectInfo:
        """A hard link of the (immutable) source data under a new name, then the row."""
        if src.inline is not None:
            return self._commit_row(bucket, key, "", src.size, src.etag, content_type, headers, meta,
                                    dict(src.checksums), src.parts, cleanup=[], inline=src.inline, acl=acl,
                                    condition=condition)
        directory = self.base / bucket / uuid.uuid4().hex[:2]
        directory.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        target = directory / name
        try:
            os.link(src.path, target)
        except FileNotFoundError:
            raise NoSuchKey() from None
        except OSError:  # another file system: copy
            with open(directory / (TMP_PREFIX + name), "wb") as fh:
                _copy_range(src.path, fh, 0, src.size)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(directory / (TMP_PREFIX + name), target)
        if self.fsync:
            fsync_dir(directory)
        return self._commit_row(bucket, key, f"{directory.name}/{name}", src.size, src.etag, content_type, headers,
                                meta, dict(src.checksums), src.parts, cleanup=[target], acl=acl, condition=condition)

    def list_keys(self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str | None = None,
                  max_keys: int = 1000) -> Listing:
        """Keys (and common prefixes) greater than ``after`` in UTF-8 byte order; prefixes count toward max_keys."""
        db = self._conn()
        pb = prefix.encode("utf-8")
        upper = prefix_successor(pb) if pb else None
        contents: list[ObjectInfo] = []
        prefixes: list[str] = []
        last: str | None = None
        cursor = _resume_point(pb, delimiter.encode("utf-8"), after)
        if cursor is None or max_keys <= 0:
            return Listing([], [], False, None)
        db_bytes = delimiter.encode("utf-8")
        batch = max_keys + 1
        while True:
            op = ">=" if cursor[1] else ">"
            sql = f"SELECT {OBJ_COLS} FROM objects WHERE bucket = ? AND key {op} ?"
            args: list[Any] = [bucket, cursor[0]]
            if upper is not None:
                sql += " AND key < ?"
                args.append(upper)
            sql += " ORDER BY key LIMIT ?"
            args.append(batch)
            rows = db.execute(sql, args).fetchall()
            if not rows:
                return Listing(contents, prefixes, False, last)
            jumped = False
            for row in rows:
                kb = bytes(row[1])
                if len(contents) + len(prefixes) >= max_keys:
                    return Listing(contents, prefixes, True, last)
                if db_bytes:
                    i = kb.find(db_bytes, len(pb))
                    if i >= 0:
                        cp = kb[:i + len(db_bytes)]
                        prefixes.append(cp.decode("utf-8"))
                        last = prefixes[-1]
                        succ = prefix_successor(cp)
                        if succ is None:
                            return Listing(contents, prefixes, False, last)
                        cursor = (succ, True)
                        jumped = True
                        break
                contents.append(self._row_to_info(row))
                last = contents[-1].key
                cursor = (kb, False)
            if not jumped and len(rows) < batch:
                return Listing(contents, prefixes, False, last)

    # ---- versions listing ---------------------------------------------------------------------------------------
    def _rows_after(self, db: sqlite3.Connection, table: str, bucket: str, pos: tuple[bytes, int],
                    upper: bytes | None, limit: int) -> list[tuple[Any, ...]]:
        """Rows of ``table`` after ``pos`` = (key, seq) in (key, newest first) order: the same key's rows with a
        smaller seq (``ALL_OF_KEY``: all of them, -1: none), then the following keys'."""
        cols = VER_COLS if table == "versions" else OBJ_COLS + ", 0"
        seqcol = "seq" if table == "versions" else "COALESCE(seq, 0)"
        key, seq = pos
        rows: list[tuple[Any, ...]] = []
        if seq > -1:
            rows = db.execute(f"SELECT {cols} FROM {table} WHERE bucket = ? AND key = ? AND {seqcol} < ? "
                              f"ORDER BY {seqcol} DESC LIMIT ?",
                              (bucket, key, min(seq, MAX_SEQ), limit)).fetchall()
        if len(rows) < limit:
            sql = f"SELECT {cols} FROM {table} WHERE bucket = ? AND key > ?"
            args: list[Any] = [bucket, key]
            if upper is not None:
                sql += " AND key < ?"
                args.append(upper)
            rows += db.execute(sql + f" ORDER BY key, {seqcol} DESC LIMIT ?", (*args, limit - len(rows))).fetchall()
        return rows

    def _versions_from(self, db: sqlite3.Connection, bucket: str, pos: tuple[bytes, int],
                       upper: bytes | None) -> Iterator[tuple[Any, ...]]:
        """Current and noncurrent rows merged in (key, newest first) order, read in batches."""
        batch = 256
        tables = ("objects", "versions")
        bufs: list[list[tuple[Any, ...]]] = [[], []]
        idx = [0, 0]
        cur = [pos, pos]
        done = [False, False]

        def fill(i: int) -> None:
            if idx[i] >= len(bufs[i]) and not done[i]:
                rows = self._rows_after(db, tables[i], bucket, cur[i], upper, batch)
                bufs[i], idx[i] = rows, 0
                done[i] = len(rows) < batch
                if rows:
                    cur[i] = (bytes(rows[-1][1]), rows[-1][12] or 0)

        while True:
            fill(0)
            fill(1)
            heads = [bufs[i][idx[i]] if idx[i] < len(bufs[i]) else None for i in (0, 1)]
            if heads[0] is None and heads[1] is None:
                return
            pick = 0 if heads[1] is None else 1 if heads[0] is None else (
                0 if (bytes(heads[0][1]), -(heads[0][12] or 0)) <= (bytes(heads[1][1]), -heads[1][12]) else 1)
            idx[pick] += 1
            yield heads[pick]  # type: ignore[misc]

    def list_versions(self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
                      version_marker: str = "", max_keys: int = 1000) -> VersionListing:
        """ListObjectVersions: versions and delete markers after (key_marker, version_marker), by key and then
        newest first; common prefixes count toward max_keys like entries do."""
        db = self._conn()
        if self.bucket(bucket) is None:
            raise NoSuchBucket()
        pb, dl = prefix.encode("utf-8"), delimiter.encode("utf-8")
        upper = prefix_successor(pb) if pb else None
        start: tuple[bytes, int] | None = None
        mid_key = False
        if key_marker and version_marker and key_marker.encode("utf-8") >= pb:
            kb = key_marker.encode("utf-8")
            seq = self._version_seq(db, bucket, kb, version_marker)
            start, mid_key = ((kb, seq), True) if seq is not None else ((kb, -1), False)
        else:
            resume = _resume_point(pb, dl, key_marker or None)
            if resume is not None:
                start = (resume[0], ALL_OF_KEY if resume[1] else -1)
        if start is None or max_keys <= 0:
            return VersionListing([], [], False, None, None)
        entries: list[ObjectInfo] = []
        prefixes: list[str] = []
        last: tuple[str, str | None] = ("", None)
        prev_key = start[0] if mid_key else None  # entries after a version marker are never the latest
        rows = self._versions_from(db, bucket, start, upper)
        while (row := next(rows, None)) is not None:
            kb = bytes(row[1])
            if len(entries) + len(prefixes) >= max_keys:
                return VersionListing(entries, prefixes, True, last[0], last[1])
            i = kb.find(dl, len(pb)) if dl else -1
            if i >= 0:
                cp = kb[:i + len(dl)]
                prefixes.append(cp.decode("utf-8"))
                last = (prefixes[-1], None)
                succ = prefix_successor(cp)
                if succ is None:
                    break
                rows = self._versions_from(db, bucket, (succ, ALL_OF_KEY), upper)
                prev_key = None
                continue
            info = self._row_to_info(row, latest=kb != prev_key)
            prev_key = kb
            entries.append(info)
            last = (info.key, info.version)
        return VersionListing(entries, prefixes, False, None, None)

    @staticmethod
    def _version_seq(db: sqlite3.Connection, bucket: str, kb: bytes, version: str) -> int | None:
        vcol = _vcol(version)
        row = db.execute("SELECT COALESCE(seq, 0) FROM objects WHERE bucket = ? AND key = ? AND version IS ?",
                         (bucket, kb, vcol)).fetchone()
        if row is None:
            row = db.execute("SELECT seq FROM versions WHERE bucket = ? AND key = ? AND version IS ?",
                             (bucket, kb, vcol)).fetchone()
        return None if row is None else int(row[0])

    # ---- multipart --------------------------------------------------------------------------------------------
    def create_upload(self, bucket: str, key: str, owner: str, *, content_type: str | None,
                      headers: dict[str, str], meta: dict[str, str], algo: str | None,
                      acl: str | None = None) -> Upload:
        up = Upload(uuid.uuid4().hex + uuid.uuid4().hex[:8], bucket, key, owner, time.time(), content_type, headers,
                    meta, algo, acl)
        with self._tx() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
                raise NoSuchBucket()
            db.execute(f"INSERT INTO uploads ({UPLOAD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (up.id, bucket, key.encode("utf-8"), owner, up.initiated, content_type, json.dumps(headers),
                        json.dumps(meta), algo, acl))
        (self.base / UPLOADS / up.id).mkdir(parents=True, exist_ok=True)
        return up

    def upload(self, bucket: str, upload_id: str, key: str | None = None) -> Upload:
        row = self._conn().execute(f"SELECT {UPLOAD_COLS} FROM uploads WHERE id = ? AND bucket = ?",
                                   (upload_id, bucket)).fetchone()
        if row is None or (key is not None and bytes(row[2]).decode("utf-8") != key):
            raise NoSuchUpload()
        return _upload(row)

    def uploads(self, bucket: str, *, prefix: str = "", key_marker: str = "", upload_marker: str = "",
                max_uploads: int = 1000) -> tuple[list[Upload], bool]:
        rows = self._conn().execute(f"SELECT {UPLOAD_COLS} FROM uploads WHERE bucket = ? ORDER BY key, initiated, id",
                                    (bucket,)).fetchall()
        out: list[Upload] = []
        for row in rows:
            key = bytes(row[2]).decode("utf-8")
            if not key.startswith(prefix):
                continue
            if key_marker and (key < key_marker
                               or (key == key_marker and (not upload_marker or row[0] <= upload_marker))):
                continue
            out.append(_upload(row))
        return out[:max_uploads], len(out) > max_uploads

    def part_writer(self, upload_id: str, *, checksums: Iterable[str] = (), sha256: bool = False) -> ObjectWriter:
        return ObjectWriter(self.base / UPLOADS / upload_id, checksums=checksums, sha256=sha256)

    def commit_part(self, upload_id: str, num: int, w: ObjectWriter, checksum: str | None) -> Part:
        final = w.final or w.finish(self.fsync)
        part = Part(num, w.etag, w.size, time.time(), checksum, final.name)
        try:
            with self._tx() as db:
                if db.execute("SELECT 1 FROM uploads WHERE id = ?", (upload_id,)).fetchone() is None:
                    raise NoSuchUpload()
                old = db.execute("SELECT file FROM parts WHERE upload = ? AND num = ?", (upload_id, num)).fetchone()
                db.execute("INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (upload_id, num, part.file, part.etag, part.size, part.mtime, checksum))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                final.unlink()
            raise
        if old is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.base / UPLOADS / upload_id / old[0]).unlink()
        return part

    def parts(self, upload_id: str) -> list[Part]:
        rows = self._conn().execute("SELECT num, etag, size, mtime, checksum, file FROM parts WHERE upload = ? "
                                    "ORDER BY num", (upload_id,)).fetchall()
        return [Part(*r) for r in rows]

    def abort(self, bucket: str, upload_id: str) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM uploads WHERE id = ? AND bucket = ?", (upload_id, bucket)).fetchone() is None:
                raise NoSuchUpload()
            db.execute("DELETE FROM parts WHERE upload = ?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        shutil.rmtree(self.base / UPLOADS / upload_id, ignore_errors=True)

    def completed(self, bucket: str, upload_id: str, key: str) -> ObjectInfo | None:
        """The result of an upload completed in the last day (S3 answers a repeated Complete with it)."""
        row = self._conn().execute("SELECT etag, version, checksums, done FROM completed WHERE id = ? AND "
                                   "bucket = ? AND key = ?", (upload_id, bucket, key.encode("utf-8"))).fetchone()
        if row is None:
            return None
        return ObjectInfo(bucket, key, self.base / bucket, 0, row[0], row[3], checksums=json.loads(row[2]),
                          version=row[1] or NULL_VERSION)

    def complete(self, bucket: str, upload_id: str, key: str, wanted: list[tuple[int, str]],
                 condition: tuple[str, str] | None = None) -> ObjectInfo:
        """Validates the client's part list, concatenates the parts into one data file and commits it."""
        up = self.upload(bucket, upload_id, key)
        if not wanted:
            raise ObjectStoreError("You must specify at least one part")  # MalformedXML in the API layer
        have = {p.num: p for p in self.parts(upload_id)}
        prev = 0
        chosen: list[Part] = []
        for num, etag in wanted:
            if num <= prev:
                raise InvalidPartOrder()
            prev = num
            p = have.get(num)
            if p is None or etag.strip().strip('"').lower() != p.etag:
                raise InvalidPart(part=num)
            chosen.append(p)
        for p in chosen[:-1]:
            if p.size < MIN_PART:
                raise EntityTooSmall(part=p.num, size=p.size)
        md5 = hashlib.md5()
        for p in chosen:
            md5.update(bytes.fromhex(p.etag))
        etag = f"{md5.hexdigest()}-{len(chosen)}"
        checksums: dict[str, str] = {}
        if up.algo and all(p.checksum for p in chosen):
            c = Checksummer(up.algo)
            for p in chosen:
                c.update(base64.b64decode(p.checksum or ""))
            checksums[up.algo] = f"{c.b64()}-{len(chosen)}"
        w = ObjectWriter(self.base / bucket / uuid.uuid4().hex[:2])  # always a file (inline_max=0)
        try:
            for p in chosen:
                _copy_range(self.base / UPLOADS / upload_id / p.file, w._fh, 0, p.size)
            w.size = sum(p.size for p in chosen)
            final = w.finish(self.fsync)
        except BaseException:
            w.discard()
            raise
        info = self._commit_row(bucket, key, f"{final.parent.name}/{final.name}", w.size, etag, up.content_type,
                                up.headers, up.meta, checksums, [p.size for p in chosen], cleanup=[final],
                                upload=upload_id, acl=up.acl, condition=condition)
        shutil.rmtree(self.base / UPLOADS / upload_id, ignore_errors=True)
        return info

    def copy_part(self, upload_id: str, num: int, src: ObjectInfo, start: int, length: int) -> Part:
        w = self.part_writer(upload_id)
        try:
            with (io.BytesIO(src.inline) if src.inline is not None else open(src.path, "rb")) as s:  # noqa: SIM115
                s.seek(start)
                left = length
                while left:
                    buf = s.read(min(4 << 20, left))
                    if not buf:
                        break
                    w.write(buf)
                    left -= len(buf)
            return self.commit_part(upload_id, num, w, None)
        except BaseException:
            w.discard()
            raise
