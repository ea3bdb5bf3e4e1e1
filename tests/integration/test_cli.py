"""The ``handoff`` command line, run as a real process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HANDOFF = [sys.executable, "-m", "handoff.cli"]


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "HANDOFF_DATA_DIR": str(tmp_path / "fresh" / "data"), **(env or {})}
    return subprocess.run(
        [*HANDOFF, *args], capture_output=True, text=True, env=environ, timeout=60, check=False
    )


def test_migrate_create_bot_and_agent_on_a_fresh_data_dir(tmp_path: Path) -> None:
    done = run(tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "revision": "head"}
    bot = json.loads(run(tmp_path, "create-bot", "--name", "Shop", "--assignment", "manual").stdout)
    assert bot["bot_id"].startswith("bot_") and bot["api_key"].startswith("hk_")
    assert bot["assignment_mode"] == "manual"
    made = run(
        tmp_path,
        "create-agent",
        "--email",
        "Anna@Example.com",
        "--password",
        "pw",
        "--bot",
        bot["bot_id"],
        "--capacity",
        "5",
    )
    agent = json.loads(made.stdout)
    assert agent["email"] == "anna@example.com" and agent["capacity"] == 5
    assert agent["bots"] == [bot["bot_id"]]


def test_cli_errors_are_clear_and_leak_nothing(tmp_path: Path) -> None:
    bot = json.loads(run(tmp_path, "create-bot", "--name", "Shop").stdout)
    args = [
        "create-agent",
        "--email",
        "a@example.com",
        "--password",
        "hunter2-secret",
        "--bot",
        bot["bot_id"],
    ]
    assert run(tmp_path, *args).returncode == 0
    again = run(tmp_path, *args)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    assert "argon2" not in again.stderr and "hunter2" not in again.stderr
    missing = run(
        tmp_path, "create-agent", "--email", "b@example.com", "--password", "x", "--bot", "bot_nope"
    )
    assert missing.returncode == 1 and "no such bot" in missing.stderr
    bad_port = run(tmp_path, "serve", env={"HANDOFF_PORT": "not-a-port"})
    assert bad_port.returncode == 1 and "HANDOFF_PORT" in bad_port.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("*", ["*"]),
        ("https://a.example, https://b.example", ["https://a.example", "https://b.example"]),
        ('["https://c.example"]', ["https://c.example"]),
    ],
)
def test_cors_origins_from_the_environment(
    value: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from handoff.config import Settings

    monkeypatch.setenv("HANDOFF_CORS_ORIGINS", value)
    assert Settings().cors_origins == expected
