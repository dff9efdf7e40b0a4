"""The KVM probe's cache (in the default state directory, whose files are all 0600) is written private by the probe
itself: the hardening check found it 0644 after the docs tier ran `devcloud host prepare --probe` on a fresh
machine."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance import cli
from appliance.host import prepare
from appliance.host.runner import LocalRunner


class _NoKvm(LocalRunner):
    """This machine, without /dev/kvm: the probe decides 'qemu' without booting a guest."""

    def exists(self, path: str) -> bool:
        return path != "/dev/kvm" and super().exists(path)


@pytest.mark.parametrize("before", [None, 0o644], ids=["new", "over-a-0644-one"])
def test_the_probe_writes_its_cache_0600(tmp_path: Path, before: int | None) -> None:
    cache = tmp_path / "virt-type.json"
    if before is not None:  # an older probe's file, from another kernel: rewritten
        cache.write_text('{"virt_type": "kvm", "kernel": "0.0.0"}\n')
        cache.chmod(before)
    assert prepare.probe_virt_type(_NoKvm(), cache_file=str(cache)) == "qemu"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["detail"] == "no /dev/kvm"


def test_a_cached_answer_from_an_older_release_is_made_private(tmp_path: Path) -> None:
    cache = tmp_path / "virt-type.json"
    kernel = LocalRunner().run(["uname", "-r"]).stdout.strip()
    text = json.dumps({"virt_type": "kvm", "kernel": kernel, "detail": "booted"}) + "\n"
    cache.write_text(text)
    cache.chmod(0o644)
    assert prepare.probe_virt_type(_NoKvm(), cache_file=str(cache)) == "kvm"  # the cached answer, not probed again
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert cache.read_text() == text


def test_prepare_keeps_its_own_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    argvs: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        argvs.append(argv)
        return 3

    monkeypatch.setattr(prepare, "main", fake_main)
    r = CliRunner().invoke(cli.app, ["host", "prepare", "--no-install", "--probe"])
    assert r.exit_code == 3, r.output
    assert argvs == [["--no-install", "--probe"]]
