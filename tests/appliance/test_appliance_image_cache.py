"""The appliance image cache that CI's appliance tier builds into (cheap: no image is built here; the build is a
stand-in that writes what the real one writes). A change to the appliance's inputs is a new image; anything else
reuses the cached one; the base image is reused across input changes while its recipe holds."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance import build

pytestmark = pytest.mark.appliance


def _tree(root: Path) -> Path:
    for rel, text in {"playbooks/site.yml": "- hosts: all\n", "packer/build.pkr.hcl": "build {}\n",
                      "appliance/build.py": "x = 1\n", "Vagrantfile": "# v\n", "management/server.py": "y = 1\n",
                      "scenarios/appliance.yaml": "zones: []\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_digest_follows_the_inputs_and_nothing_else(tmp_path: Path) -> None:
    repo = _tree(tmp_path)
    first = build.inputs_digest(repo)
    (repo / "management/server.py").write_text("y = 2\n")  # the server's code is not an input
    (repo / "appliance/__pycache__").mkdir()
    (repo / "appliance/__pycache__/build.cpython-311.pyc").write_bytes(b"\0")
    assert build.inputs_digest(repo) == first
    (repo / "playbooks/site.yml").write_text("- hosts: all\n  roles: [common]\n")
    second = build.inputs_digest(repo)
    assert second != first
    (repo / "playbooks/site.yml").rename(repo / "playbooks/main.yml")  # a rename is a change too
    assert build.inputs_digest(repo) not in (first, second)


def test_the_front_ends_are_not_inputs(tmp_path: Path) -> None:
    # the CLI and its kin run on the user's machine, not in a build: an edit to them must not cost a cold rebuild
    repo = _tree(tmp_path)
    (repo / "appliance/cli.py").write_text("z = 1\n")
    first = build.inputs_digest(repo)
    (repo / "appliance/cli.py").write_text("z = 2\n")
    assert build.inputs_digest(repo) == first
    (repo / "appliance/build.py").write_text("x = 2\n")  # the code that builds the image is
    assert build.inputs_digest(repo) != first


def test_digest_in_a_checkout_counts_tracked_files_as_they_are_now(tmp_path: Path) -> None:
    repo = _tree(tmp_path)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    first = build.inputs_digest(repo)
    (repo / "packer/scratch.log").write_text("a build's output, not tracked\n")
    assert build.inputs_digest(repo) == first
    (repo / "packer/build.pkr.hcl").write_text("build { name = \"x\" }\n")  # uncommitted edit of a tracked file
    assert build.inputs_digest(repo) != first


def test_the_real_inputs_are_the_appliance_directories() -> None:
    files = build._input_files(build.REPO, build.IMAGE_INPUTS)
    tops = {f.split("/", 1)[0] for f in files}
    assert {"playbooks", "packer", "appliance", "scenarios", "Vagrantfile"} <= tops
    assert "management" not in tops and "tests" not in tops
    assert "appliance/build.py" in files and "appliance/farm.py" in files
    assert not build.NOT_IMAGE_INPUTS & set(files)


class FakeBuild:
    """Writes what build_appliance leaves behind: the base (with its recipe) and build key when absent, a qcow2."""

    def __init__(self, out: Path) -> None:
        self.out, self.calls, self.bases_built, self.base_seen = out, 0, 0, []

    def __call__(self, progress: build.Progress = build._say, flavor: build.Flavor = build.KVM) -> dict[str, object]:
        self.calls += 1
        self.base_seen.append(build.base_is_current())
        if not build.base_is_current():
            build.ensure_build_key()
            build.BASE_IMAGE.write_bytes(b"base image")
            build._record_recipe(build.BASE_IMAGE)
            self.bases_built += 1
        qcow2 = self.out / flavor.qcow2
        qcow2.write_bytes(b"%s appliance %d" % (flavor.name.encode(), self.calls))
        return {"qcow2": str(qcow2), "seconds": 1.0, "steps": {"packer": 1.0}}


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeBuild:
    out = tmp_path / "dist"
    out.mkdir()
    monkeypatch.setattr(build, "BASE_IMAGE", out / "base.qcow2")
    monkeypatch.setattr(build, "BUILD_KEY", out / "build-key")
    return FakeBuild(out)


def test_built_once_then_served_from_the_cache(fake: FakeBuild, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build.cached_appliance(cache=cache, build=fake, progress=lambda _m: None)
    assert fake.calls == 1 and first["cached"] is False
    entry = Path(str(first["qcow2"])).parent
    assert entry == build.cache_entry(cache) == cache / build.inputs_digest()[:16]
    assert Path(str(first["qcow2"])).read_bytes() == b"kvm appliance 1"
    key = Path(str(first["key"]))
    assert key.stat().st_mode & 0o777 == 0o600 and key.with_name("build-key.pub").is_file()
    assert json.loads((entry / "build.json").read_text())["digest"] == build.inputs_digest()

    def no_build(**_kw: object) -> dict[str, object]:
        raise AssertionError("rebuilt although the inputs did not change")

    again = build.cached_appliance(cache=cache, build=no_build, progress=lambda _m: None)
    assert again["cached"] is True and again["qcow2"] == first["qcow2"] and again["steps"] == first["steps"]
    assert not list(cache.glob(".*.tmp"))


def test_new_inputs_rebuild_on_the_cached_base_and_old_images_are_pruned(
        fake: FakeBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    digests = iter(f"{n:x}" * 64 for n in range(10, 14))
    entries = []
    for n in range(3):
        digest = next(digests)
        monkeypatch.setattr(build, "inputs_digest", lambda d=digest: d)
        if n:  # a fresh clone: no base in dist/, and a new build key would not open the cached base
            build.BASE_IMAGE.unlink()
            build.BUILD_KEY.unlink()
        result = build.cached_appliance(cache=cache, build=fake, progress=lambda _m: None)
        assert result["cached"] is False and result["digest"] == digest
        entries.append(Path(str(result["qcow2"])).parent)
    assert fake.calls == 3
    assert fake.bases_built == 1, "the base was made again although its recipe did not change"
    assert fake.base_seen == [False, True, True]
    # the cached base comes with the key it authorises
    assert build.BUILD_KEY.read_text() == (cache / f"base-{build.base_digest()[:16]}" / "build-key").read_text()
    kept = sorted(p.name for p in cache.iterdir() if p.is_dir() and not p.name.startswith("base-"))
    assert kept == sorted(e.name for e in entries[-build.CACHE_KEEP:])


def test_each_flavor_has_its_own_entry_on_one_base(fake: FakeBuild, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    xen = build.FLAVORS["xen"]
    images = {}
    for digest in ("a" * 64, "b" * 64, "c" * 64):
        monkeypatch.setattr(build, "inputs_digest", lambda d=digest: d)
        for flavor in (build.KVM, xen):
            images[flavor.name, digest] = build.cached_appliance(cache=cache, flavor=flavor, build=fake,
                                                                 progress=lambda _m: None)
    kvm_c, xen_c = images["kvm", "c" * 64], images["xen", "c" * 64]
    assert Path(str(kvm_c["qcow2"])) == cache / ("c" * 16) / "devcloud-appliance.qcow2"
    assert Path(str(xen_c["qcow2"])) == cache / ("xen-" + "c" * 16) / "devcloud-appliance-xen.qcow2"
    assert Path(str(xen_c["qcow2"])).read_bytes() == b"xen appliance 6"
    assert fake.calls == 6 and fake.bases_built == 1  # both flavors are made from the one base
    # pruning keeps CACHE_KEEP entries of each flavor: one flavor's builds never evict the other's
    names = sorted(p.name for p in cache.iterdir() if p.is_dir() and not p.name.startswith("base-"))
    assert names == sorted(["b" * 16, "c" * 16, "xen-" + "b" * 16, "xen-" + "c" * 16])
    # and the xen image of the current inputs is served from the cache
    again = build.cached_appliance(cache=cache, flavor=xen, build=None, progress=lambda _m: None)
    assert again["cached"] is True and again["qcow2"] == xen_c["qcow2"]


def test_a_base_the_farms_kept_disks_are_overlays_of_is_not_pruned(fake: FakeBuild, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The farm rehearsal keeps its nodes' disks as overlays of the cached base: a new base recipe must not delete
    the base under them (their next boot would find no backing file), and may once no kept disk uses it."""
    cache = tmp_path / "cache"

    def new_recipe(n: int) -> None:
        monkeypatch.setattr(build, "BASE_PACKAGES", (*build.BASE_PACKAGES[:60], f"recipe-{n}"))
        monkeypatch.setattr(build, "inputs_digest", lambda: f"{n:x}" * 64)
        build.BASE_IMAGE.unlink(missing_ok=True)
        build.cached_appliance(cache=cache, build=fake, progress=lambda _m: None)

    new_recipe(10)
    first = cache / f"base-{build.base_digest()[:16]}"
    farm = cache / "farm-farm-rehearsal-0123456789abcdef"
    farm.mkdir()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", str(first / "base.qcow2"),
                    str(farm / "kvm1.qcow2"), "1G"], check=True)
    new_recipe(11)
    second = cache / f"base-{build.base_digest()[:16]}"
    assert second.is_dir() and first.is_dir(), "the base under the farm's kept disks was pruned"
    shutil.rmtree(farm)  # the farm rehearsed again on the newer base and dropped its old disks
    new_recipe(12)
    bases = sorted(p.name for p in cache.glob("base-*"))
    assert bases == [f"base-{build.base_digest()[:16]}"], bases


def test_a_base_of_another_recipe_is_rebuilt(fake: FakeBuild, monkeypatch: pytest.MonkeyPatch) -> None:
    build.BASE_IMAGE.write_bytes(b"old base")
    build._recipe_file(build.BASE_IMAGE).write_text(json.dumps({"recipe": "0" * 64}))
    assert not build.base_is_current()
    build._recipe_file(build.BASE_IMAGE).write_text(json.dumps({"recipe": build.base_digest()}))
    assert build.base_is_current()
    monkeypatch.setattr(build, "BASE_PACKAGES", (*build.BASE_PACKAGES, "hello"))
    assert not build.base_is_current(), "a new package in the base must make the base again"


def test_provisioning_changes_are_read_from_packers_output() -> None:
    lines = [
        "2026-12-05T12:36:16Z:     qemu.appliance: PLAY RECAP *********************************************",
        "2026-12-05T12:36:16Z:     qemu.appliance: appliance                  : ok=81   changed=36   "
        "unreachable=0    failed=0    skipped=18   rescued=0    ignored=0",
        "2026-12-05T12:38:01Z:     qemu.appliance: TASK [common : Install the base packages] changed=3",
        "2026-12-05T12:40:42Z:     qemu.appliance: appliance                  : ok=73   changed=1    "
        "unreachable=0    failed=0    skipped=22   rescued=0    ignored=0",
    ]
    assert build.provisioning_changes(lines) == [36, 1]


@pytest.mark.parametrize("flavor", ["all", "hyperv"])
def test_boot_check_boots_one_named_flavor(flavor: str) -> None:
    from typer.testing import CliRunner

    r = CliRunner().invoke(build.build_app, ["boot-check", "--flavor", flavor])
    assert r.exit_code == 2 and f"unknown flavor {flavor!r}: kvm or xen" in r.output, r.output
