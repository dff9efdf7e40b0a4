"""`devcloud logs` over the server's logs: the tarball carries the JSON and text logs (access lines among them)
with any stray secret parameter masked, and `--request-id` prints one request's lines from either format."""

from __future__ import annotations

import json
import logging
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance.cli import app
from management import logcontext
from management.logformat import TEXT_FORMAT, JsonFormatter

pytestmark = pytest.mark.unit


def _write_log(path: Path, formatter: logging.Formatter, rid: str) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(formatter)
    handler.addFilter(logcontext.ContextFilter())
    log = logging.getLogger(f"test.bundle.{path.name}")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with logcontext.bound(rid):
            logcontext.annotate(command="deployVirtualMachine", account="admin")
            log.info("api GET /client/api [deployVirtualMachine] 200 57 B 12.0 ms", extra={"status": 200})
        with logcontext.bound(rid, job_id="j-1", command="deployVirtualMachine"):
            log.warning("libvirt spawn failed after 0.200 s: no-such-backing", extra={"outcome": "error"})
        with logcontext.bound("other-1"):
            log.info("an unrelated request with %s in its text", rid)
        log.info("old line: GET /client/api?command=listZones&apikey=AK1&signature=SIG1&password=PW1")
    finally:
        log.removeHandler(handler)
        handler.close()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "state"
    (d / "logs").mkdir(parents=True)
    monkeypatch.setenv("DEVCLOUD_STATE_DIR", str(d))
    monkeypatch.setenv("DEVCLOUD_API_PORT", "1")  # nothing listens there
    _write_log(d / "logs" / "management.log", JsonFormatter(), "trace-7")
    _write_log(d / "logs" / "management.log.1", logging.Formatter(TEXT_FORMAT), "trace-7")
    return d


def test_request_id_prints_the_requests_lines_from_json_and_text_logs(state: Path) -> None:
    r = CliRunner().invoke(app, ["logs", "--request-id", "trace-7"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == 4, lines  # access + driver line, in each of the two files
    json_lines = [json.loads(ln.split(": ", 1)[1]) for ln in lines if ln.startswith("management.log: ")]
    assert [(x["request_id"], x.get("job_id"), x["command"]) for x in json_lines] == \
        [("trace-7", None, "deployVirtualMachine"), ("trace-7", "j-1", "deployVirtualMachine")]
    assert json_lines[0]["account"] == "admin" and json_lines[0]["status"] == 200
    assert sum("(logid:trace-7)" in ln for ln in lines if ln.startswith("management.log.1: ")) == 2
    missing = CliRunner().invoke(app, ["logs", "--request-id", "nope"])
    assert missing.exit_code == 1 and "no log line of request nope" in missing.output


def test_the_bundle_carries_the_logs_with_secret_parameters_masked(state: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    r = CliRunner().invoke(app, ["logs", "-o", str(out)])
    assert r.exit_code == 0, r.output
    with tarfile.open(out) as tar:
        texts = {name: tar.extractfile(name).read().decode()  # type: ignore[union-attr]
                 for name in ("logs/management.log", "logs/management.log.1")}
    for text in texts.values():
        assert "trace-7" in text and "no-such-backing" in text
        assert "apikey=<redacted>" in text and "signature=<redacted>" in text and "password=<redacted>" in text
        assert "AK1" not in text and "SIG1" not in text and "PW1" not in text
    assert all(json.loads(ln) for ln in texts["logs/management.log"].splitlines())
