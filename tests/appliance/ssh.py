"""The ssh_config testinfra reads for booted appliance and farm VMs.

testinfra runs one `ssh` per command and already passes `ControlMaster=auto`, but without a `ControlPath` OpenSSH
does not multiplex, so every command paid a whole key exchange with an sshd emulated by TCG. With a ControlPath the
KVM appliance's check went from 555 to 345 s and the farm's from 689 to 344 s in CI. The control sockets live in a
short directory of their own: a socket path is limited to ~100 bytes, and pytest's tmp_path for a long test name is
nearly that already.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


def write_ssh_config(path: Path, hosts: dict[str, tuple[str, int]], key: Path | str) -> Path:
    """`hosts`: name -> (address, port). Returns `path`."""
    control = tempfile.mkdtemp(prefix="cm.", dir="/tmp")
    atexit.register(functools.partial(shutil.rmtree, control, ignore_errors=True))
    path.write_text("".join(
        f"Host {name}\n  HostName {address}\n  Port {port}\n  User root\n  IdentityFile {key}\n"
        "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
        f"  ConnectTimeout 10\n  ControlMaster auto\n  ControlPath {control}/%C\n  ControlPersist 120\n"
        for name, (address, port) in hosts.items()))
    return path
