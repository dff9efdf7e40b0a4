"""The devcloud CLI without a running cloud: spec errors before any change, env exports, status when down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from appliance import zonespec
from appliance.cli import app

pytestmark = pytest.mark.unit


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "state"
    monkeypatch.setenv("DEVCLOUD_STATE_DIR", str(d))
    monkeypatch.setenv("DEVCLOUD_API_PORT", "1")  # nothing listens there
    monkeypatch.setenv("DEVCLOUD_S3_PORT", "8181")
    monkeypatch.setenv("DEVCLOUD_EC2_PORT", "8182")
    return d


def test_broken_spec_names_the_field_and_changes_nothing(state: Path, tmp_path: Path) -> None:
    data = yaml.safe_load((zonespec.SCENARIO_DIR / "local.yaml").read_text())
    data["zones"][0]["pods"][0]["clusters"][0]["hosts"][0]["url"] = "qemu-system"
    data["first_vm"]["ssh_public_port"] = 70000
    bad = tmp_path / "broken.yaml"
    bad.write_text(yaml.safe_dump(data))
    r = CliRunner().invoke(app, ["up", "--scenario", str(bad)])
    assert r.exit_code == 2, r.output
    assert "zones[0].pods[0].clusters[0].hosts[0].url" in r.output
    assert "first_vm.ssh_public_port" in r.output
    assert not state.exists()  # nothing was prepared, started or written


def test_unknown_scenario_lists_known_ones(state: Path) -> None:
    r = CliRunner().invoke(app, ["up", "--scenario", "nope"])
    assert r.exit_code == 2
    assert "local" in r.output and "farm-example" in r.output and "smoke-local" not in r.output


def test_env_exports_cloudstack_and_aws(state: Path) -> None:
    state.mkdir()
    (state / "admin.json").write_text(json.dumps({"apikey": "AK", "secretkey": "SK", "password": "pw"}))
    (state / "sandbox.json").write_text(json.dumps({"scenario": "local"}))
    r = CliRunner().invoke(app, ["env"])
    assert r.exit_code == 0, r.output
    lines = dict(line.removeprefix("export ").split("=", 1) for line in r.output.splitlines())
    assert lines["CLOUDSTACK_ENDPOINT"] == "http://127.0.0.1:1/client/api"
    assert lines["CLOUDSTACK_KEY"] == lines["AWS_ACCESS_KEY_ID"] == "AK"
    assert lines["CLOUDSTACK_SECRET"] == lines["AWS_SECRET_ACCESS_KEY"] == "SK"
    assert lines["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:8181"
    assert lines["AWS_ENDPOINT_URL_EC2"] == "http://127.0.0.1:8182"
    assert lines["AWS_DEFAULT_REGION"] == "devcloud-local"


@pytest.mark.parametrize("terminal", [False, True])
def test_up_shows_the_admin_keys_on_a_terminal_only(state: Path, terminal: bool, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # `make up` in CI writes into a log that is kept: the password and keys must not be in it
    from appliance import cli
    from appliance.sandbox import Sandbox

    state.mkdir()
    (state / "admin.json").write_text(json.dumps({"apikey": "AK-1234", "secretkey": "SK-5678", "password": "pw-90"}))
    monkeypatch.setattr(cli.sys.stdout, "isatty", lambda: terminal)
    cli._print_access(Sandbox.from_env())
    out = capsys.readouterr().out
    assert "http://127.0.0.1:1/client/api" in out
    shown = [s for s in ("AK-1234", "SK-5678", "pw-90") if s in out]
    if terminal:
        assert shown == ["AK-1234", "SK-5678", "pw-90"] and "[cloudstack]" in out
    else:
        assert shown == [] and 'eval "$(devcloud env)"' in out


def test_env_region_is_a_valid_s3_location_constraint(state: Path) -> None:
    state.mkdir()
    (state / "admin.json").write_text(json.dumps({"apikey": "AK", "secretkey": "SK", "password": "pw"}))
    (state / "sandbox.json").write_text(json.dumps({"scenario": "simulator-advanced"}))  # zone Sandbox-simulator-...
    r = CliRunner().invoke(app, ["env"])
    assert "export AWS_DEFAULT_REGION=sandbox-simulator-advanced\n" in r.output, r.output


def test_env_without_sandbox_fails(state: Path) -> None:
    r = CliRunner().invoke(app, ["env"])
    assert r.exit_code == 1 and "devcloud up" in r.output


def test_status_json_when_nothing_runs(state: Path) -> None:
    r = CliRunner().invoke(app, ["status", "--json"])
    assert r.exit_code == 1
    out = json.loads(r.output)
    assert out["healthy"] is False
    names = {c["name"]: c for c in out["checks"]}
    assert names["server process"]["ok"] is False and names["API answers"]["ok"] is False


def test_down_when_nothing_runs(state: Path) -> None:
    r = CliRunner().invoke(app, ["down"])
    assert r.exit_code == 0 and "was not running" in r.output


def test_scenario_run_needs_a_scenario_and_a_sandbox(state: Path) -> None:
    r = CliRunner().invoke(app, ["scenario", "run", "no-such"])
    assert r.exit_code == 2 and "no scenario" in r.output
    r = CliRunner().invoke(app, ["scenario", "run", "smoke-local"])
    assert r.exit_code == 2 and "not running" in r.output


def test_snapshot_name_is_checked(state: Path) -> None:
    r = CliRunner().invoke(app, ["snapshot", "../x"])
    assert r.exit_code == 1 and "bad snapshot name" in r.output
    r = CliRunner().invoke(app, ["restore", "missing"])
    assert r.exit_code == 1 and "no snapshot missing" in r.output


def test_logs_bundle_redacts_secrets(state: Path, tmp_path: Path) -> None:
    import tarfile

    (state / "logs").mkdir(parents=True)
    (state / "logs" / "management.log").write_text("hello\n")
    (state / "admin.json").write_text(json.dumps({"apikey": "AK", "secretkey": "SK", "password": "pw"}))
    out = tmp_path / "b.tar.gz"
    r = CliRunner().invoke(app, ["logs", "-o", str(out)])
    assert r.exit_code == 0, r.output
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert "logs/management.log" in names
        admin = json.loads(tar.extractfile("config/admin.json").read())  # type: ignore[union-attr]
    assert admin == {"apikey": "<redacted>", "secretkey": "<redacted>", "password": "<redacted>"}


def _refusal(*_: object, **__: object) -> object:
    from appliance.client import ApiError

    raise ApiError("destroyVirtualMachine", 431, "Unable to destroy VM in state Expunging")


@pytest.mark.parametrize("argv", [["down", "--all"], ["down", "--purge"], ["scenario", "run", "smoke-local"]],
                         ids=["down-all", "down-purge", "scenario-run"])
def test_a_cloudstack_refusal_is_one_line_on_stderr(state: Path, argv: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # the server refuses a call a command makes: the user reads the command, the code and the server's text,
    # not a traceback; the exit code is 1, as for the CLI's other runtime failures
    from appliance import snapshots
    from appliance.sandbox import Sandbox

    monkeypatch.setattr(Sandbox, "pid", lambda self: 4242)
    monkeypatch.setattr(Sandbox, "admin", lambda self: {"apikey": "AK", "secretkey": "SK"})
    monkeypatch.setattr(Sandbox, "answers", lambda self: True)
    monkeypatch.setattr(Sandbox, "client", _refusal)
    monkeypatch.setattr(snapshots, "inventory", lambda sb: snapshots.Inventory())
    monkeypatch.setattr(snapshots, "stop_guests", _refusal)
    stopped: list[bool] = []
    monkeypatch.setattr(Sandbox, "stop", lambda self: stopped.append(True))
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.stderr == "devcloud: destroyVirtualMachine refused (431): Unable to destroy VM in state Expunging\n"
    assert "Traceback" not in r.output and r.stdout == ""
    assert stopped == []  # a refused --all/--purge stops nothing behind the user's back
