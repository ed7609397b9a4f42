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
    # Times people type into forms (a campaign's schedule) are in this zone.
    timezone: str = "Europe/Belgrade"
    # Background jobs run inside `beatbook serve` unless a separate worker does them.
    run_jobs_in_process: bool = True
    # Login throttling: failures counted per address and per client in this window.
    login_window_seconds: int = 900
    login_max_failures: int = 5
    login_delay_step: float = 0.5
    session_days: int = 14
    # Echo SQL to the log; for debugging only.
    sql_echo: bool = False
    # Suppressions are stored as HMACs of addresses under this key. It must never change (a
    # new key forgets every suppression) and is kept apart from the secret key, which may.
    suppression_key: str = Field(default="", repr=False)
    # Imports: the largest file accepted, and the most data rows read from it.
    import_max_bytes: int = 20 * 1024 * 1024
    import_max_rows: int = 200_000
    # Outgoing mail (the instance default; organisations add their own sender identities).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_tls: str = "starttls"  # starttls | tls | none
    mail_from: str = "Beatbook <beatbook@localhost>"
    # Limits of the instance's relay (empty: none), on top of each sender address's own.
    smtp_per_minute: int | None = None
    smtp_per_day: int | None = None
    # Replies come back to reply+TOKEN@ this domain (its MX points at Beatbook's receiver).
    reply_domain: str = "localhost"
    # With no relay configured, mail goes to a built-in catcher on this loopback port (0: any
    # free port, for `beatbook serve` alone) and shows on the Mailbox page.
    catcher_port: int = 1025
    # The sender worker: SMTP connections per account, rows claimed at a time, how long a
    # claim lasts, retries, and how many failures in a row pause a campaign.
    send_concurrency: int = 4
    send_batch: int = 500
    # Processes that build big batches' messages ahead of the connections (0: the sender
    # builds them itself; unset: one per core but one, at most two).
    send_build_processes: int | None = None
    send_lease_seconds: int = 120
    send_retry_seconds: float = 60.0
    send_max_attempts: int = 12
    send_failures_to_pause: int = 20
    # Rate-limit windows (the limits are per sender identity). Shorter in tests.
    send_minute_seconds: float = 60.0
    send_day_seconds: float = 86400.0
    # A send reserved in a window must start within this long, or it is not made.
    send_grace_seconds: float = 5.0
    # Attachments of one campaign, in bytes all together.
    attachment_max_bytes: int = 10 * 1024 * 1024
    # Use bounce+TOKEN@ the reply domain as the envelope sender, so bounces and most
    # auto-replies come straight back to Beatbook, each naming its message. Only for relays
    # that let you choose the envelope sender (your own Postfix, Amazon SES, Mailgun): Microsoft
    # 365 and Gmail refuse any but the mailbox you log in as. Off, the From address is used and
    # bounces reach its mailbox (poll it with IMAP to have them read). Always on for the
    # built-in catcher.
    bounce_return_path: bool = False
    # Inbound mail. The built-in SMTP receiver takes mail for the reply domain on this
    # address (0.0.0.0 when the reply domain's MX points here; port 0: any free port, -1: off).
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int = 2525
    # Larger messages are recorded with their headers only.
    inbound_max_bytes: int = 15 * 1024 * 1024
    # Coverage: a clipping file's size limit; how long fetching a pasted link may take; and
    # whether links to private and loopback addresses may be fetched (only for tests).
    clipping_max_bytes: int = 10 * 1024 * 1024
    coverage_fetch_timeout: float = 10.0
    coverage_fetch_private: bool = False
    # How often each watched outlet feed is read (minutes; at least 5).
    feed_poll_minutes: int = 60
    # How often relationship health is brought up to date for the dashboard (minutes).
    health_refresh_minutes: int = 10
    # `POST /api/v1/inbound` (a provider's inbound webhook) takes this bearer token; empty: off.
    inbound_token: str = Field(default="", repr=False)
    # Soft bounces (mailbox full) to one address before it is suppressed.
    soft_bounce_limit: int = 3
    # An IMAP mailbox that receives the reply domain's mail, polled instead of (or besides)
    # the receiver. Empty host: no polling.
    imap_host: str = ""
    imap_port: int = 993
    imap_tls: str = "tls"  # tls | starttls | none
    imap_username: str = ""
    imap_password: str = Field(default="", repr=False)
    imap_mailbox: str = "INBOX"
    imap_poll_seconds: float = 60.0

    @field_validator("smtp_per_minute", "smtp_per_day", "send_build_processes", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def suppression_hmac_key(self) -> bytes:
        if not self.suppression_key:
            raise RuntimeError(
                "BEATBOOK_SUPPRESSION_KEY is not set (`make run` writes one to .env)."
            )
        return self.suppression_key.encode()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def write_env_secret(env_path: Path) -> bool:
    """Give `.env` a generated secret key and suppression key where it has none; True when
    one was written.

    An existing key is never replaced: sessions survive restarts, and suppressions stay
    readable for good.
    """
    import secrets

    lines = env_path.read_text(encoding="utf-8").splitlines() if env_path.exists() else []
    wrote = False
    for name in ("BEATBOOK_SECRET_KEY", "BEATBOOK_SUPPRESSION_KEY"):
        key_line = f"{name}={secrets.token_urlsafe(48)}"
        for i, line in enumerate(lines):
            if line.startswith(f"{name}="):
                if not line.removeprefix(f"{name}=").strip():
                    lines[i] = key_line
                    wrote = True
                break
        else:
            lines.append(key_line)
            wrote = True
    if wrote:
        env_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return wrote
