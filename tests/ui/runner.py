"""Drives tests/ui/run.mjs (playwright-core in Debian's Chromium) for the browser tests of the UI tier and of the
sandbox e2e tier: what the runner needs, and one scenario run returning its JSON result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def ui_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not (ROOT / "ui" / "node_modules" / "playwright-core").is_dir():
        return "ui/node_modules is missing (cd ui && npm ci)"
    if not (ROOT / "management" / "ui_dist" / "index.html").is_file():
        return "management/ui_dist is not built (make ui)"
    return None


def run_ui(cfg: dict[str, Any], tmp_path: Path, scenario: str, timeout: float = 240) -> dict[str, Any]:
    """Runs one scenario of run.mjs with ``cfg`` (see its header); returns {ok, steps, error, ...}. ``timeout`` must be
    below the test's own (pytest-timeout's 300 s unless marked): the runner gives up 20 s before it and reports how
    far it got, where a kill from outside would leave nothing to read."""
    path = tmp_path / f"ui-{scenario}.json"
    path.write_text(json.dumps({**cfg, "deadline": max(10, int(timeout) - 20)}))
    proc = subprocess.run(["node", str(HERE / "run.mjs"), str(path)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "UI_SCENARIO": scenario, "CHROMIUM": CHROMIUM})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"runner printed no result (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1])  # type: ignore[no-any-return]
