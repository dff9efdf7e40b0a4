"""Shared by the listApis contract tests: the live listApis of an in-process server, and the parity gap table
printed at the end of a run that ran tests/contract/api/test_parity.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def listapis_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The body of `listApis response=json` from an in-process server (fresh SQLite database), read through the
    integration listener's ASGI app as Marvin's code generator and cmk read it."""
    from starlette.testclient import TestClient

    from management.api.app import integration_app
    from management.server import build
    from management.services.identity import rbac
    from management.settings import Settings

    state: Path = tmp_path_factory.mktemp("listapis")
    settings = Settings(state_dir=state, db_url=f"sqlite:///{state / 'devcloud.db'}", api_port=0,
                        integration_port=0, job_workers=1)
    rbac.RULES.invalidate()
    srv = build(settings, start_workers=False)
    try:
        with TestClient(integration_app(srv.dispatcher), base_url="http://127.0.0.1:8096") as http:
            r = http.get("/client/api", params={"command": "listApis", "response": "json"})
    finally:
        srv.runtime.db.dispose()
        rbac.RULES.invalidate()
    assert r.status_code == 200, r.text
    return r.text


REPORT_KEY = pytest.StashKey[dict[str, list[str]]]()
SECTIONS = ("commands", "plugins", "parameters", "responses")


@pytest.fixture
def parity_report(pytestconfig: pytest.Config) -> dict[str, list[str]]:
    """Where the parity tests leave their part of the gap table (printed at the end of the run)."""
    return pytestconfig.stash.setdefault(REPORT_KEY, {})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report = terminalreporter.config.stash.get(REPORT_KEY, {})
    lines = [line for title in SECTIONS for line in report.get(title, [])]
    if lines:
        terminalreporter.section("CloudStack 4.22 API parity gap")
        for line in lines:
            terminalreporter.write_line(line)
