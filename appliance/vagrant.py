"""`devcloud up --provider vagrant`: drive the repository's Vagrantfile through python-vagrant.

    from appliance.vagrant import vagrant_up, vagrant_status, vagrant_destroy
    vagrant_up("farm-example", provider="libvirt")

The Vagrantfile reads scenarios/<name>.yaml (DEVCLOUD_SCENARIO); the box is a local one (devcloud build appliance,
then `vagrant box add`), so nothing is downloaded: VAGRANT_CHECKPOINT_DISABLE is always set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance import zonespec
from appliance.build import FLAVORS, OUT

REPO = Path(__file__).resolve().parent.parent


def box_of(scenario: str) -> tuple[str, Path]:
    """The box a scenario's appliance boots (as the Vagrantfile chooses it): the xen flavor when a Xen host of the
    spec has no address (the appliance is dom0), else the KVM one. Returns (box name, the locally built libvirt box)."""
    spec = zonespec.load(scenario)
    dom0 = any(h.role == "xen" and h.address is None
               for z in spec.zones for p in z.pods for c in p.clusters for h in c.hosts)
    flavor = FLAVORS["xen" if dom0 else "kvm"]
    return flavor.image, OUT / f"{flavor.image}-libvirt.box"


@dataclass(slots=True)
class MachineState:
    name: str
    state: str
    provider: str


def _env(scenario: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1", DEVCLOUD_SCENARIO=scenario, VAGRANT_NO_COLOR="1")
    env.update(extra or {})
    return env


def _client(scenario: str, log: Path | None = None, env: dict[str, str] | None = None) -> Any:
    try:
        import vagrant
    except ImportError as exc:  # pragma: no cover - declared in the test extras
        raise RuntimeError("python-vagrant is not installed (pip install python-vagrant)") from exc
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        # python-vagrant hands these files to the vagrant subprocess as stdout/stderr
        return vagrant.Vagrant(str(REPO), env=_env(scenario, env), out_cm=lambda: open(log, "a"),  # noqa: SIM115
                               err_cm=lambda: open(log, "a"))  # noqa: SIM115
    return vagrant.Vagrant(str(REPO), env=_env(scenario, env), quiet_stdout=False, quiet_stderr=False)


def ensure_box(box: Path | None = None, name: str | None = None, scenario: str = "appliance") -> bool:
    """Add the locally built box (by default the scenario's, `box_of`) unless Vagrant knows it; returns True when it
    was added."""
    if box is None or name is None:
        name, box = box_of(scenario)
    v = _client(scenario)
    if any(b.name == name for b in v.box_list()):
        return False
    if not box.is_file():
        raise FileNotFoundError(f"{box} does not exist: run `devcloud build appliance` first")
    v.box_add(name, str(box))
    return True


def vagrant_up(scenario: str = "appliance", provider: str = "libvirt", *, provision: bool = True,
               log: Path | None = None) -> list[MachineState]:
    """`vagrant up --provider=<provider>` for the scenario's machines (output to `log` when given); returns their
    states afterwards. Called by `devcloud up --provider vagrant`."""
    if provider == "libvirt":
        ensure_box(scenario=scenario)
    v = _client(scenario, log)
    v.up(provider=provider, provision=provision)
    return vagrant_status(scenario)


def vagrant_status(scenario: str = "appliance") -> list[MachineState]:
    return [MachineState(s.name, s.state, s.provider) for s in _client(scenario).status()]


def vagrant_ssh_config(scenario: str = "appliance", machine: str = "appliance") -> str:
    """The machine's `vagrant ssh-config` (testinfra connects with it: --ssh-config)."""
    return str(_client(scenario).ssh_config(vm_name=machine))


def vagrant_destroy(scenario: str = "appliance") -> None:
    _client(scenario).destroy()
