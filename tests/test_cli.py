"""The `beatbook` command, run as a user would, against a SQLite file."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

BEATBOOK = [sys.executable, "-m", "web.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BEATBOOK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "BEATBOOK_SECRET_KEY": "cli-test-secret",
        "BEATBOOK_SUPPRESSION_KEY": "cli-test-suppression",
    }


def run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BEATBOOK, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_user_token_and_backup_commands(env: dict[str, str], tmp_path: Path) -> None:
    root = Path(__file__).parents[1]
    env["PYTHONPATH"] = str(root)
    assert run(env, "db", "upgrade", cwd=tmp_path).returncode == 0
    created = run(
        env, "user", "create", "--email", "Ana@Example.org", "--password", "long enough pw",
        "--org", "Zëri i Qytetarëve", "--role", "owner", cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = run(env, "token", "create", "--email", "ana@example.org", cwd=tmp_path)
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("bb_") and len(token.stdout.split()) == 1
    bad = run(
        env, "user", "create", "--email", "b@example.org", "--password", "short",
        "--org", "X", cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2 and "10 characters" in bad.stderr
    backup = run(env, "backup", str(tmp_path / "copy.db"), cwd=tmp_path)
    assert backup.returncode == 0, backup.stderr
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT name FROM organisation").fetchall() == [("Zëri i Qytetarëve",)]
    copy.close()


def test_demo_loads_once_and_prints_logins(env: dict[str, str], tmp_path: Path) -> None:
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    assert run(env, "db", "upgrade", cwd=tmp_path).returncode == 0
    first = run(env, "demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "editor@qdt.example" in first.stdout
    second = run(env, "demo", cwd=tmp_path)
    assert "already has data" in second.stdout
    db = sqlite3.connect(env["BEATBOOK_DATABASE_URL"].removeprefix("sqlite:///"))
    contacts = db.execute("SELECT count(*) FROM contact").fetchone()[0]
    outlets = db.execute("SELECT count(DISTINCT name) FROM outlet").fetchone()[0]
    cyrillic = db.execute(
        "SELECT count(*) FROM contact WHERE family_name GLOB '*[Ђ-ӿ]*'"
    ).fetchone()[0]
    interactions = db.execute("SELECT count(*) FROM interaction").fetchone()[0]
    coalition = db.execute(
        "SELECT count(*) FROM coalition_member WHERE status='accepted'"
    ).fetchone()[0]
    db.close()
    assert contacts >= 400 and outlets >= 40 and cyrillic > 10
    assert interactions > 500 and coalition == 2


def test_import_command_reports_totals_and_refuses_unreadable_files(
    env: dict[str, str], tmp_path: Path
) -> None:
    root = Path(__file__).parents[1]
    env["PYTHONPATH"] = str(root)
    assert run(env, "db", "upgrade", cwd=tmp_path).returncode == 0
    created = run(
        env, "user", "create", "--email", "ana@example.org", "--password", "long enough pw",
        "--org", "Zëri i Qytetarëve", cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    fixture = root / "tests/fixtures/import/serbian_excel_windows1250.csv"
    done = run(env, "import", str(fixture), "--org", "Zëri i Qytetarëve", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"imported [1-9]\d*, updated 0, skipped 0, rejected \d+", done.stdout)
    again = run(env, "import", str(fixture), "--org", "Zëri i Qytetarëve", cwd=tmp_path)
    assert re.search(r"imported 0, updated 0, skipped [1-9]", again.stdout), again.stdout
    junk = tmp_path / "photo.csv"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    refused = run(env, "import", str(junk), "--org", "Zëri i Qytetarëve", cwd=tmp_path)
    assert refused.returncode != 0 and "error: file:" in refused.stderr
    missing = run(env, "import", str(tmp_path / "nope.csv"), "--org", "X", cwd=tmp_path)
    assert missing.returncode != 0 and "cannot read" in missing.stderr


def test_make_run_writes_each_secret_once_and_keeps_existing_ones(tmp_path: Path) -> None:
    from crm.settings import write_env_secret

    env_file = tmp_path / ".env"
    env_file.write_text("BEATBOOK_SECRET_KEY=kept-from-last-year\nBEATBOOK_BASE_URL=x\n")
    assert write_env_secret(env_file)  # an older .env gains the suppression key
    first = env_file.read_text()
    assert "BEATBOOK_SECRET_KEY=kept-from-last-year" in first
    assert re.search(r"^BEATBOOK_SUPPRESSION_KEY=\S{40,}$", first, re.M)
    assert not write_env_secret(env_file)  # and nothing changes on the next start
    assert env_file.read_text() == first
