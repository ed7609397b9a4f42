"""Beatbook's configuration: one settings class, read from BEATBOOK_* variables and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BEATBOOK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///beatbook.db"
    secret_key: str = Field(default="", repr=False)
    base_url: str = "http://127.0.0.1:8000"
    default_language: str = "en"
    # Background jobs run inside `beatbook serve` unless a separate worker does them.
    run_jobs_in_process: bool = True
    # Login throttling: failures counted per address and per client in this window.
    login_window_seconds: int = 900
    login_max_failures: int = 5
    login_delay_step: float = 0.5
    session_days: int = 14
    # Echo SQL to the log; for debugging only.
    sql_echo: bool = False

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def write_env_secret(env_path: Path) -> bool:
    """Give `.env` a generated secret key when it has none; True when one was written.

    An existing key is never replaced, so sessions survive restarts.
    """
    import secrets

    lines = env_path.read_text(encoding="utf-8").splitlines() if env_path.exists() else []
    key_line = f"BEATBOOK_SECRET_KEY={secrets.token_urlsafe(48)}"
    for i, line in enumerate(lines):
        if line.startswith("BEATBOOK_SECRET_KEY="):
            if line.removeprefix("BEATBOOK_SECRET_KEY=").strip():
                return False
            lines[i] = key_line
            break
    else:
        lines.append(key_line)
    env_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True
