"""Deploys of one template to one pool at the same moment: the first copies the template into the pool, the others
wait for that copy and use it. Each used to find no volume, start its own copy, and all but one failed with
libvirt's "storage volume ... exists already" (CI: one of fifty concurrent deploys on a KVM host)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from management.drivers.base import PoolSpec
from management.drivers.libvirt import storage
from management.drivers.libvirt.driver import LibvirtDriver


def test_concurrent_copies_of_one_template_make_one_volume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "tiny.raw"
    source.write_bytes(b"\0" * 65536)
    drv = LibvirtDriver("test:///default", events=False)
    drv.connect()
    pool = PoolSpec(name=f"tpl-{uuid.uuid4().hex[:8]}", path=str(tmp_path / "pool"))
    drv.ensure_pool(pool)
    copies: list[str] = []
    real_upload = storage.upload_file

    def slow_upload(*args: Any, **kwargs: Any) -> Any:  # a copy takes a while: the others arrive meanwhile
        copies.append(args[2])
        time.sleep(0.3)
        return real_upload(*args, **kwargs)

    monkeypatch.setattr(storage, "upload_file", slow_upload)
    template = str(uuid.uuid4())
    results: list[Any] = []
    errors: list[BaseException] = []

    def deploy() -> None:
        try:
            results.append(drv.prepare_template(pool.name, template, str(source)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert copies == [template]  # copied once
    assert len(results) == 4 and len({r.path for r in results}) == 1
    assert [v.uuid for v in drv.list_volumes(pool.name)].count(template) == 1
    drv.close()
