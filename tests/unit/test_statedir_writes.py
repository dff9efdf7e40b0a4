"""Files of the state directory that other processes read while they are written: admin.json (the CLI polls for it
during `devcloud up`), server-id, the database key and the signing secrets. A reader sees a whole file or none,
and processes racing to create a secret all end up with the first writer's."""

from __future__ import annotations

import json
import multiprocessing
import stat
import threading
from pathlib import Path

from management import statedir


def test_a_reader_polling_during_writes_never_sees_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "admin.json"
    docs = [json.dumps({"n": n, "pad": "x" * 200_000}) + "\n" for n in range(60)]
    seen: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            if path.is_file():
                seen.append(path.read_text())

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for doc in docs:
            statedir.write_private(path, doc)
    finally:
        done.set()
        reader.join()
    assert seen, "the reader never saw the file"
    bad = [len(text) for text in seen if text not in docs]
    assert not bad, f"{len(bad)} of {len(seen)} reads saw a partial file (lengths {sorted(set(bad))[:5]})"
    assert path.read_text() == docs[-1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["admin.json"]  # no temporary file left behind


def _create(args: tuple[str, int]) -> bytes:
    path, n = args
    return statedir.create_once(Path(path), f"secret-{n}\n".encode())


def test_processes_racing_to_create_a_secret_all_get_the_first_one(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "console.secret"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        got = pool.map(_create, [(str(path), n) for n in range(16)])
    assert len(set(got)) == 1 and got[0].startswith(b"secret-"), set(got)
    assert path.read_bytes() == got[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["console.secret"]


def test_threads_racing_to_create_a_secret_all_get_the_first_one(tmp_path: Path) -> None:
    path = tmp_path / "transfer.secret"
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(_create, [(str(path), n) for n in range(64)]))
    assert len(set(got)) == 1 and got[0].startswith(b"secret-"), set(got)
    assert [p.name for p in tmp_path.iterdir()] == ["transfer.secret"]


def test_an_existing_secret_is_kept_and_an_empty_one_replaced(tmp_path: Path) -> None:
    kept = tmp_path / "db.key"
    kept.write_bytes(b"old\n")
    assert statedir.create_once(kept, b"new\n") == b"old\n"
    empty = tmp_path / "server-id"
    empty.write_bytes(b"")  # what an interrupted non-atomic writer of an older release could leave
    assert statedir.create_once(empty, b"abc\n") == b"abc\n"
    assert empty.read_bytes() == b"abc\n"
