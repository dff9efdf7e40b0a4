"""`make appliance` on a fresh machine: what a developer's machine happened to have, the build now makes or fetches
itself. Base packages neither cached nor installed come from the registry apt-get reaches (a real `apt-get
download`); the initramfs's kernel and busybox come from the project's deb cache (no developer's /tmp folder), fetched
when absent; the Ansible tools venv is made when missing; and the "regenerate secrets" seal has one source, the
management role's first-boot script, which Packer's last step calls with --seal."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

from appliance import build
from appliance.image import builder as tiny

pytestmark = pytest.mark.appliance

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "playbooks/roles/management"
SMALL_PACKAGE = "hello"  # ~50 kB, not installed by anything the project provisions


def _candidate(pkg: str) -> str:
    out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Candidate: (\S+)", out)
    if not m or m.group(1) == "(none)":
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True, check=True).stdout
        m = re.search(r"Candidate: (\S+)", out)
    assert m and m.group(1) != "(none)", out
    return m.group(1)


@pytest.fixture
def project_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project cache (DEVCLOUD_CACHE_DIR), as on a fresh machine."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEVCLOUD_CACHE_DIR", str(cache))
    return cache


def test_deb_caches_are_apt_and_the_project_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DEVCLOUD_CACHE_DIR", raising=False)
    caches = build.deb_caches()
    assert caches == (Path("/var/cache/apt/archives"), Path("/var/cache/devcloud/images/debs"))
    assert not [c for c in caches if str(c).startswith("/tmp/")]  # on main: a developer's /tmp/dcimg-cache/debs
    monkeypatch.setenv("DEVCLOUD_CACHE_DIR", str(tmp_path))
    assert build.deb_caches()[-1] == tmp_path / "debs"


def test_missing_base_package_is_fetched_through_apt(project_cache: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A package neither cached nor installed (on main: "not cached and not installed here (no network to fetch
    them)") is downloaded by apt-get into the project's deb cache and lands in the local repository."""
    # apt's archive cache as on a fresh machine: an `apt-get install` of the package, even one removed since, would
    # have left its .deb there, and the build takes a cached .deb before it fetches
    monkeypatch.setattr(build, "APT_ARCHIVES", tmp_path / "apt-archives")
    (tmp_path / "apt-archives").mkdir()
    assert build._installed_version(SMALL_PACKAGE) is None, f"{SMALL_PACKAGE} must not be installed for this test"
    version = _candidate(SMALL_PACKAGE)
    said: list[str] = []
    repo = build.build_local_repo((SMALL_PACKAGE,), tmp_path / "repo", said.append)
    fetched = list((project_cache / "debs").glob(f"{SMALL_PACKAGE}_*.deb"))
    assert [d.name.split("_")[1].replace("%3a", ":") for d in fetched] == [version]
    in_repo = list(repo.glob(f"{SMALL_PACKAGE}_*.deb"))
    assert len(in_repo) == 1
    assert subprocess.run(["dpkg-deb", "-f", str(in_repo[0]), "Package"], capture_output=True, text=True,
                          check=True).stdout.strip() == SMALL_PACKAGE
    assert f"Package: {SMALL_PACKAGE}\n" in (repo / "Packages").read_text()
    assert any("apt-get download" in line and SMALL_PACKAGE in line for line in said), said
    m = re.search(r"(\d+) fetched into ", said[-1])
    assert m and int(m.group(1)) >= 1, said[-1]


def test_unfetchable_package_names_what_is_missing(project_cache: Path, tmp_path: Path) -> None:
    """Without the package in any registry (the offline case looks the same to the build), the error lists it."""
    with pytest.raises(build.FetchError, match=r"not fetched .*: devcloud-no-such-package=1\.0"):
        build.collect_debs([("devcloud-no-such-package", "1.0")], tmp_path / "repo", project_cache / "debs",
                           lambda _m: None)


def test_kernel_tree_fetches_the_tiny_images_packages_when_absent(project_cache: Path, tmp_path: Path) -> None:
    """On main the base build stopped with "no cached cloud kernel / busybox-static package" when busybox-static
    was in none of its hard-coded caches; now the tiny image's versions are looked up and fetched."""
    wanted = {p.name: p.version for p in tiny.resolve_packages()}
    said: list[str] = []
    kver, tree, initrd = build._kernel_tree(tmp_path, said.append)
    kernel_pkg = next(n for n in wanted if n.startswith("linux-image-"))
    assert kernel_pkg == f"linux-image-{kver}"
    assert (tree / "boot" / f"vmlinuz-{kver}").is_file()
    assert (tree / "bin/busybox").is_file() or (tree / "usr/bin/busybox").is_file()
    assert initrd[:2] == b"\x1f\x8b" and len(initrd) > 100_000
    busybox = list((project_cache / "debs").glob("busybox-static_*.deb")) or [
        d for d in build.APT_ARCHIVES.glob("busybox-static_*.deb")]
    assert [d.name.split("_")[1].replace("%3a", ":") for d in busybox] == [wanted["busybox-static"]]


def test_ansible_tools_venv_is_made_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "ansible-tools"
    monkeypatch.delenv("DEVCLOUD_ANSIBLE_PLAYBOOK", raising=False)
    monkeypatch.setenv("DEVCLOUD_ANSIBLE_TOOLS", str(tools))
    # what Packer is told to run follows the environment (on main: /opt/ansible-tools, fixed at import)
    assert f"ansible_playbook={tools}/bin/ansible-playbook" in build.packer_vars(tmp_path / "out")
    said: list[str] = []
    playbook = build.ensure_ansible_tools(progress=said.append)
    assert playbook == tools / "bin" / "ansible-playbook"
    version = subprocess.run([str(playbook), "--version"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"core 2\.19\.", version), version
    assert any("making the tools venv" in line for line in said), said
    # present: used as it is
    said.clear()
    assert build.ensure_ansible_tools(progress=said.append) == playbook
    assert said == [f"Ansible: {playbook}"]


def test_provisioning_and_the_build_share_the_ansible_requirements() -> None:
    script = (REPO / "scripts/provision-test.sh").read_text()
    assert "pip\" install -q -r scripts/ansible-tools.txt" in script
    assert "ansible-core" not in script.split("ansible-tools.txt", 1)[1].split("\n", 1)[0]
    assert [r for r in build.ansible_requirements() if r.startswith("ansible-core")] == ["ansible-core>=2.19,<2.20"]


def _render(template: str, **values: str) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    return env.get_template(template).render(ansible_managed="managed by Ansible", **values)


def test_seal_has_one_source(tmp_path: Path) -> None:
    """Packer's seal step names no marker or file: it runs the role's first-boot script with --seal, and that
    script (rendered from the role's variables, like the unit's condition) leaves the marker it acts on."""
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    marker = defaults["management_firstboot_marker"]
    packer = (REPO / "packer/build.pkr.hcl").read_text()
    assert marker not in packer and "admin.json" not in packer
    assert '"/usr/local/sbin/devcloud-firstboot --seal"' in packer
    tasks = (ROLE / "tasks/main.yml").read_text()
    assert "dest: /usr/local/sbin/devcloud-firstboot\n" in tasks
    unit = _render("devcloud-firstboot.service.j2", management_firstboot_marker=marker)
    assert f"ConditionPathExists={marker}\n" in unit

    # run the rendered script's seal against a scratch root (systemd cannot run here: systemctl records its call)
    state, etc, bindir = tmp_path / "state", tmp_path / "etc/devcloud", tmp_path / "bin"
    for d in (state, bindir):
        d.mkdir(parents=True)
    (state / "admin.json").write_text('{"apikey": "k"}')
    calls = tmp_path / "systemctl.calls"
    (bindir / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (bindir / "systemctl").chmod(0o755)
    scratch_marker = etc / "regenerate-secrets"
    script = tmp_path / "devcloud-firstboot"
    script.write_text(_render("devcloud-firstboot.sh.j2", management_firstboot_marker=str(scratch_marker),
                              management_state_dir=str(state), management_db_env_file=str(etc / "mysql.env"),
                              management_config_file=str(etc / "management.yaml"),
                              management_key_file=str(state / "db.key")))
    r = subprocess.run(["sh", str(script), "--seal"], capture_output=True, text=True,
                       env=dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}"))
    assert r.returncode == 0, r.stderr
    assert scratch_marker.is_file()
    assert not (state / "admin.json").exists()
    assert calls.read_text() == "stop devcloud-management.service\n"
    assert str(scratch_marker) in r.stdout


def test_ansible_managed_only_in_templates() -> None:
    """ansible-core 2.19 defines `ansible_managed` only while rendering a template: in a task's argument it is
    undefined, and the appliance build's provisioning stopped at the mariadb role with a fresh tools venv."""
    offenders = [str(f.relative_to(REPO)) for f in (REPO / "playbooks").rglob("*.yml")
                 if "ansible_managed" in f.read_text()]
    assert offenders == []


def test_common_role_makes_the_state_dir_as_private_as_the_server(tmp_path: Path) -> None:
    """The Packer build's second provisioning run reported changed=1: `common` set /var/lib/devcloud to 0755 and
    the server, starting, set it back to 0700. The role now creates it with the server's own mode."""
    import stat

    from management import statedir

    state = tmp_path / "state"
    statedir.secure(state)
    server_mode = stat.S_IMODE(state.stat().st_mode)
    defaults = yaml.safe_load((REPO / "playbooks/roles/common/defaults/main.yml").read_text())
    tasks = yaml.safe_load((REPO / "playbooks/roles/common/tasks/main.yml").read_text())
    modes = {}
    for task in tasks:
        loop = str(task.get("loop", ""))
        for var in ("common_dirs", "common_private_dirs"):
            if task.get("ansible.builtin.file", {}).get("state") == "directory" and loop == f"{{{{ {var} }}}}":
                modes.update({d: int(task["ansible.builtin.file"]["mode"], 8) for d in defaults[var]})
    assert modes["/var/lib/devcloud"] == server_mode == 0o700
    assert modes["/etc/devcloud"] == 0o755


def test_every_role_makes_the_state_dir_with_one_mode() -> None:
    """The rebuilt image's second provisioning run still changed one thing: `management` made the state directory
    0755 while `common` (and the server) make it 0700, so each run flipped it. Every role that manages the directory
    gives it the server's mode."""
    state_dirs = {"/var/lib/devcloud", "{{ management_state_dir }}", "{{ common_state_dir }}"}
    found = {}
    for tasks_file in sorted((REPO / "playbooks/roles").glob("*/tasks/*.yml")):
        for task in yaml.safe_load(tasks_file.read_text()) or []:
            spec = task.get("ansible.builtin.file") or {}
            if spec.get("state") == "directory" and spec.get("path") in state_dirs:
                found[f"{tasks_file.parent.parent.name}: {task['name']}"] = spec.get("mode")
    assert found, "no role manages the state directory"
    assert set(found.values()) == {"0700"}, found


# The programs the build, its boot checks and the farm rehearsal run on this machine (appliance/build.py,
# appliance/image/, appliance/farm.py), and files they read from Debian packages.
BUILD_PROGRAMS = ("packer", "mmdebstrap", "dpkg-scanpackages", "qemu-img", "qemu-system-x86_64", "extlinux",
                  "mkfs.ext2", "debugfs", "readelf", "busybox", "genisoimage", "dnsmasq", "ssh", "ssh-keygen", "git")


def _appliance_packages() -> set[str]:
    text = (REPO / "scripts/appliance-packages.txt").read_text()
    return {line.split("#")[0].strip() for line in text.splitlines()} - {""}


def _owner(path: str) -> str:
    # dpkg -S knows the path a package shipped; /bin and /usr/bin are one directory on a merged-/usr Debian
    real = os.path.realpath(path)
    for candidate in (path, path.replace("/usr/bin/", "/bin/"), path.replace("/usr/sbin/", "/sbin/"), real):
        r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    raise AssertionError(f"no Debian package ships {path}")


def test_make_appliance_installs_every_tool_the_build_runs() -> None:
    """`make up` installs none of the build's tools; `make appliance` installs the missing ones before it builds.
    Each program the build runs (and Vagrant's well-known key, which goes into the base image) comes from a package
    that list names."""
    import shutil

    packages = _appliance_packages()
    owners = {}
    for prog in BUILD_PROGRAMS:
        found = shutil.which(prog, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        assert found, f"{prog} is not installed (scripts/provision-test.sh installs the appliance packages)"
        owners[prog] = _owner(found)  # the package that ships the name (binutils' readelf is a link)
    key = next(p for p in build.VAGRANT_PUBKEY_CANDIDATES if Path(p).is_file())
    owners["vagrant.pub"] = _owner(key)
    unlisted = {prog: pkg for prog, pkg in owners.items() if pkg not in packages}
    assert not unlisted, f"scripts/appliance-packages.txt lacks the packages of {unlisted}"

    dry = subprocess.run(["make", "-n", "appliance"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    lines = dry.splitlines()
    ensure = next(i for i, line in enumerate(lines) if "scripts/apt-ensure.sh" in line)
    assert set(lines[ensure].split()[2:]) == packages
    assert ensure < next(i for i, line in enumerate(lines) if "devcloud build appliance" in line)
