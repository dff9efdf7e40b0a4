"""The object store's versions: current and noncurrent rows, delete markers, null versions, the versions listing,
and an index written before versioning existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from management.storage import objects as st

pytestmark = pytest.mark.unit


def _put(store: st.ObjectStore, bucket: str, key: str, data: bytes) -> st.ObjectInfo:
    w = store.writer(bucket)
    w.write(data)
    return store.commit(bucket, key, w)


def _read(store: st.ObjectStore, bucket: str, key: str, version: str | None = None) -> bytes:
    _, fh = store.open(bucket, key, version)
    with fh:
        return fh.read()  # type: ignore[no-any-return]


def _listing(store: st.ObjectStore, bucket: str, **kw: object) -> list[tuple[str, str, bool, bool]]:
    out = store.list_versions(bucket, **kw)  # type: ignore[arg-type]
    return [(e.key, e.version, e.marker, e.latest) for e in out.entries]


@pytest.fixture
def store(tmp_path: Path) -> st.ObjectStore:
    s = st.ObjectStore(tmp_path, inline_max=16)  # small inline limit: both inline rows and data files
    s.create_bucket("bkt", "o", "n", "us-east-1")
    return s


def test_enabled_bucket_keeps_every_version_and_adds_delete_markers(store: st.ObjectStore) -> None:
    store.set_bucket("bkt", versioning=st.ENABLED)
    v1 = _put(store, "bkt", "k", b"first version, a file" * 2)
    v2 = _put(store, "bkt", "k", b"second")
    assert st.valid_version_id(v1.version) and v1.version != v2.version != st.NULL_VERSION
    assert _read(store, "bkt", "k") == b"second"
    assert _read(store, "bkt", "k", v1.version) == b"first version, a file" * 2
    assert _listing(store, "bkt") == [("k", v2.version, False, True), ("k", v1.version, False, False)]
    gone = store.delete("bkt", "k")
    assert gone.marker and st.valid_version_id(gone.version or "")
    with pytest.raises(st.KeyIsDeleted) as e:
        store.get("bkt", "k")
    assert e.value.version == gone.version
    assert store.list_keys("bkt").contents == []
    assert _listing(store, "bkt") == [("k", gone.version, True, True), ("k", v2.version, False, False),
                                      ("k", v1.version, False, False)]
    assert store.get("bkt", "k", gone.version).marker
    with pytest.raises(st.NoSuchVersion):
        store.get("bkt", "k", "0" * 32)
    # removing the delete marker brings the newest version back; removing the current version, the one before
    assert store.delete("bkt", "k", gone.version) == st.Deleted(gone.version, True)
    assert _read(store, "bkt", "k") == b"second"
    assert store.delete("bkt", "k", v2.version) == st.Deleted(v2.version, False)
    assert _read(store, "bkt", "k") == b"first version, a file" * 2
    assert [o.key for o in store.list_keys("bkt").contents] == ["k"]
    with pytest.raises(st.BucketNotEmpty):
        store.delete_bucket("bkt")
    store.delete("bkt", "k", v1.version)
    assert _listing(store, "bkt") == [] and store.sweep() == 0
    assert [p for p in (store.base / "bkt").rglob("*") if p.is_file()] == []
    store.delete_bucket("bkt")


def test_null_versions_in_unversioned_and_suspended_buckets(store: st.ObjectStore) -> None:
    a = _put(store, "bkt", "k", b"unversioned")
    assert a.version == st.NULL_VERSION and _listing(store, "bkt") == [("k", "null", False, True)]
    assert _read(store, "bkt", "k", "null") == b"unversioned"
    store.set_bucket("bkt", versioning=st.ENABLED)
    b = _put(store, "bkt", "k", b"versioned")
    store.set_bucket("bkt", versioning=st.SUSPENDED)
    _put(store, "bkt", "k", b"suspended one")
    # the null version written while suspended replaced the older null version; the id'd one stays
    assert _listing(store, "bkt") == [("k", "null", False, True), ("k", b.version, False, False)]
    _put(store, "bkt", "k", b"suspended two")
    assert _listing(store, "bkt") == [("k", "null", False, True), ("k", b.version, False, False)]
    assert _read(store, "bkt", "k") == b"suspended two"
    assert store.delete("bkt", "k") == st.Deleted("null", True)
    assert _listing(store, "bkt") == [("k", "null", True, True), ("k", b.version, False, False)]
    assert store.sweep() == 0


def test_versions_listing_markers_prefixes_and_paging(store: st.ObjectStore) -> None:
    store.set_bucket("bkt", versioning=st.ENABLED)
    want = []
    for key in ("a/1", "a/2", "b", "c/x", "d"):
        ids = [_put(store, "bkt", key, f"{key} {n}".encode()).version for n in range(3)]
        want += [(key, v) for v in reversed(ids)]
    full = [(k, v) for k, v, _, _ in _listing(store, "bkt")]
    assert full == want
    # pages of 2 resumed with NextKeyMarker/NextVersionIdMarker walk the same list
    seen, km, vm = [], "", ""
    while True:
        page = store.list_versions("bkt", key_marker=km, version_marker=vm, max_keys=2)
        seen += [(e.key, e.version) for e in page.entries]
        if not page.truncated:
            break
        km, vm = page.next_key or "", page.next_version or ""
    assert seen == want
    # a key marker alone starts after all of that key's versions; the versions after a version marker are old
    assert [k for k, *_ in _listing(store, "bkt", key_marker="b")][:1] == ["c/x"]
    rest = _listing(store, "bkt", key_marker="b", version_marker=want[6][1])
    assert [(k, v) for k, v, _, _ in rest][:2] == want[7:9] and not any(latest for *_, latest in rest[:2])
    page = store.list_versions("bkt", delimiter="/", max_keys=4)
    assert page.prefixes == ["a/"] and [e.key for e in page.entries] == ["b", "b", "b"] and page.truncated
    page = store.list_versions("bkt", delimiter="/", key_marker=page.next_key or "",
                               version_marker=page.next_version or "")
    assert page.prefixes == ["c/"] and [e.key for e in page.entries] == ["d"] * 3 and not page.truncated
    page = store.list_versions("bkt", prefix="a/", delimiter="/")
    assert page.prefixes == [] and [e.key for e in page.entries] == ["a/1"] * 3 + ["a/2"] * 3


def test_sweep_keeps_noncurrent_version_files(tmp_path: Path) -> None:
    store = st.ObjectStore(tmp_path, inline_max=0)
    store.create_bucket("bkt", "o", "n", "us-east-1")
    store.set_bucket("bkt", versioning=st.ENABLED)
    old = _put(store, "bkt", "k", b"old")
    _put(store, "bkt", "k", b"new")
    store.delete("bkt", "k")
    assert store.sweep() == 0
    assert old.path.read_bytes() == b"old"
    store.delete("bkt", "k", old.version)
    assert not old.path.exists()


def test_an_index_from_before_versioning_opens_and_versions(tmp_path: Path) -> None:
    base = tmp_path / "buckets"
    base.mkdir()
    db = sqlite3.connect(base / st.INDEX)
    db.executescript("""
CREATE TABLE buckets (name TEXT PRIMARY KEY, owner TEXT NOT NULL, owner_name TEXT NOT NULL, region TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE objects (bucket TEXT NOT NULL, key BLOB NOT NULL, data TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, mtime REAL NOT NULL, ctype TEXT, headers TEXT NOT NULL, meta TEXT NOT NULL,
    checksums TEXT NOT NULL, parts TEXT, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE TABLE uploads (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, owner TEXT NOT NULL,
    initiated REAL NOT NULL, ctype TEXT, headers TEXT NOT NULL, meta TEXT NOT NULL, algo TEXT);
INSERT INTO buckets VALUES ('old', 'o', 'n', 'us-east-1', 1.0);
""")
    (base / "old" / "ab").mkdir(parents=True)
    (base / "old" / "ab" / "f1").write_bytes(b"from before")
    db.execute("INSERT INTO objects VALUES ('old', ?, 'ab/f1', 11, 'e', 1.0, NULL, '{}', '{}', '{}', NULL)",
               (b"legacy",))
    db.commit()
    db.close()
    store = st.ObjectStore(tmp_path)
    assert store.sweep() == 0
    assert _read(store, "old", "legacy") == b"from before"
    assert store.bucket("old") == st.Bucket("old", "o", "n", "us-east-1", 1.0)
    store.set_bucket("old", versioning=st.ENABLED)
    _put(store, "old", "legacy", b"newer")
    assert _listing(store, "old")[1] == ("legacy", "null", False, False)
    assert _read(store, "old", "legacy", "null") == b"from before"
