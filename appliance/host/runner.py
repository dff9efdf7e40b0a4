"""Command runners: host preparation talks to a host only through one of these.

`LocalRunner` uses subprocess; a Fabric-backed runner with the same four methods
can prepare a remote host with the same steps.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass
class CommandResult:
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


class CommandError(RuntimeError):
    def __init__(self, cmd: list[str], result: CommandResult) -> None:
        super().__init__(f"{' '.join(cmd)} failed ({result.rc}): {result.stderr.strip()[-500:]}")
        self.result = result


class Runner(Protocol):
    local: bool

    def run(
        self,
        cmd: list[str],
        *,
        check: bool = True,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult: ...

    def read_file(self, path: str) -> str | None: ...

    def write_file(self, path: str, data: str, mode: int = 0o644) -> None: ...

    def exists(self, path: str) -> bool: ...


class LocalRunner:
    local = True

    def run(
        self,
        cmd: list[str],
        *,
        check: bool = True,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        full_env = {**os.environ, **env} if env else None
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)
        res = CommandResult(p.returncode, p.stdout, p.stderr)
        if check and not res.ok:
            raise CommandError(cmd, res)
        return res

    def read_file(self, path: str) -> str | None:
        try:
            return Path(path).read_text(errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write_file(self, path: str, data: str, mode: int = 0o644) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename so a reader (libvirtd) never sees half a file
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, p)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)
