"""Server settings: defaults < settings file (YAML) < DEVCLOUD_* environment variables."""

from __future__ import annotations

import os
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from management import statedir

DEFAULT_STATE_DIR = Path("/var/lib/devcloud")


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the file named by DEVCLOUD_SETTINGS_FILE, or <state_dir>/management.yaml when present."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("DEVCLOUD_SETTINGS_FILE")
        # The state directory may come from the environment only, so it is read at load time, not import time.
        state_dir = Path(os.environ.get("DEVCLOUD_STATE_DIR", str(DEFAULT_STATE_DIR)))
        candidate = Path(path) if path else state_dir / "management.yaml"
        if not candidate.is_file():
            if path:
                raise FileNotFoundError(f"settings file {path} (DEVCLOUD_SETTINGS_FILE) does not exist")
            return {}
        data = yaml.safe_load(candidate.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"settings file {candidate} must hold a mapping")
        return data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVCLOUD_", extra="ignore")

    state_dir: Path = Field(default=DEFAULT_STATE_DIR, description="where the database, keys and logs live")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite:///<state_dir>/devcloud.db")
    key_file: Path | None = Field(default=None, description="the key that seals secrets in the database; default "
                                  "<state_dir>/db.key (generated at first start; servers sharing a database share it)")
    api_bind: str = "127.0.0.1"
    api_port: int = 8080
    integration_bind: str = "127.0.0.1"
    integration_port: int = Field(default=8096, description="unauthenticated port acting as SYSTEM; 0 disables")
    s3_bind: str = "127.0.0.1"
    s3_port: int = Field(default=8081, description="S3 endpoint over secondary storage (user API keys); 0 disables")
    ec2_bind: str = "127.0.0.1"
    ec2_port: int = Field(default=8082, description="EC2 Query API endpoint (user API keys, SigV4); 0 disables")
    server_id: str | None = Field(default=None, description="management server id (msid); generated once")
    log_format: Literal["text", "json"] = Field(default="text", description="server log lines: text, or one JSON "
                                                "object per line (serve --log-format)")
    job_workers: int = 4
    job_poll_interval: float = Field(default=1.0, description="seconds between looks for jobs queued by other "
                                     "management servers (this server's own jobs wake a worker at once)")
    heartbeat_interval: float = 5.0
    session_timeout: int = 1800
    # Fault injection for tests and demos (CloudStack's simulator mock configurations play this role there):
    # {"createTags": 30} makes every createTags job take 30 s longer. Empty by default.
    job_delay: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlFileSource(settings_cls)

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.state_dir / 'devcloud.db'}"

    @property
    def database_key_file(self) -> Path:
        return self.key_file or self.state_dir / "db.key"

    @property
    def msid(self) -> str:
        """The management server id: configured, or generated once and kept in the state directory."""
        if self.server_id:
            return self.server_id
        made = statedir.create_once(self.state_dir / "server-id", uuid.uuid4().hex[:12].encode() + b"\n")
        return made.decode().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
