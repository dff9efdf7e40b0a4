"""Settings: defaults < YAML file < DEVCLOUD_* environment; the server id is generated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from management.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for k in list(os.environ):
        if k.startswith("DEVCLOUD_"):
            monkeypatch.delenv(k)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    monkeypatch.setenv("DEVCLOUD_SETTINGS_FILE", str(empty))


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVCLOUD_SETTINGS_FILE")
    s = Settings(state_dir=tmp_path)
    assert s.api_port == 8080 and s.integration_port == 8096
    assert s.api_bind == "127.0.0.1" and s.integration_bind == "127.0.0.1"
    assert s.database_url == f"sqlite:///{tmp_path / 'devcloud.db'}"
    assert s.job_delay == {}


def test_missing_named_settings_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVCLOUD_SETTINGS_FILE", str(tmp_path / "none.yaml"))
    with pytest.raises(FileNotFoundError):
        Settings(state_dir=tmp_path)


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("api_port: 9000\nintegration_port: 9001\njob_workers: 7\n")
    monkeypatch.setenv("DEVCLOUD_SETTINGS_FILE", str(f))
    monkeypatch.setenv("DEVCLOUD_API_PORT", "9100")
    monkeypatch.setenv("DEVCLOUD_DB_URL", "mysql+pymysql://u:p@127.0.0.1/db")
    monkeypatch.setenv("DEVCLOUD_JOB_DELAY", '{"createTags": 30}')
    s = Settings(state_dir=tmp_path)
    assert s.api_port == 9100  # env wins
    assert s.integration_port == 9001 and s.job_workers == 7  # yaml beats defaults
    assert s.database_url == "mysql+pymysql://u:p@127.0.0.1/db"
    assert s.job_delay == {"createTags": 30.0}


def test_server_id_is_generated_once_and_kept(tmp_path: Path) -> None:
    a = Settings(state_dir=tmp_path / "s").msid
    assert a == Settings(state_dir=tmp_path / "s").msid
    assert (tmp_path / "s" / "server-id").read_text().strip() == a
    assert Settings(state_dir=tmp_path / "s", server_id="ms-1").msid == "ms-1"


def test_settings_factory_isolated(settings_factory) -> None:  # type: ignore[no-untyped-def]
    s = settings_factory(job_workers=1)
    assert s.job_workers == 1 and s.state_dir.name == "state"
