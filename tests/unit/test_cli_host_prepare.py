"""`devcloud host prepare --probe` leaves the probe's cache (in the default state directory) private: the hardening
check found it 0644 after the docs tier ran that command on a fresh machine."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance import cli
from appliance.host import prepare


def test_the_probe_cache_is_left_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "virt-type.json"
    argvs: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:  # what the real probe does to the file: written with mode 0644
        argvs.append(argv)
        cache.write_text('{"virt_type": "qemu"}\n')
        os.chmod(cache, 0o644)
        return 0

    monkeypatch.setattr(prepare, "VIRT_TYPE_FILE", str(cache))
    monkeypatch.setattr(prepare, "main", fake_main)
    r = CliRunner().invoke(cli.app, ["host", "prepare", "--probe"])
    assert r.exit_code == 0, r.output
    assert argvs == [["--probe"]]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_no_probe_cache_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare, "VIRT_TYPE_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setattr(prepare, "main", lambda argv: 3)
    r = CliRunner().invoke(cli.app, ["host", "prepare", "--no-install"])
    assert r.exit_code == 3  # prepare's own exit code is kept
    assert not (tmp_path / "absent.json").exists()
