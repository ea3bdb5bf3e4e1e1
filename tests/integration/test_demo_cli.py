"""``handoff serve`` as a real process: what it prints, and the demo bootstrap (HANDOFF_DEMO)."""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.integration.test_cli import HANDOFF, run


@dataclass
class Started:
    port: int
    output: str
    answers: dict[str, int]
    """Path → status of each request made while it ran."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _status(url: str, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def login(url: str, email: str, password: str) -> int:
    body = json.dumps({"email": email, "password": password}).encode()
    return _status(url + "/api/v1/auth/login", body)


def serve(
    tmp_path: Path, env: dict[str, str], *, calls: dict[str, bytes | None] | None = None,
    logins: list[tuple[str, str]] | None = None,
) -> tuple[Started, dict[tuple[str, str], int]]:
    """Start ``handoff serve``, wait until it answers, make ``calls`` (path → POST body or
    None for GET) and ``logins``, stop it; everything it printed."""
    port = free_port()
    environ = {**os.environ, "HANDOFF_DATA_DIR": str(tmp_path / "data"), **env}
    if "HANDOFF_DEMO" not in env:  # the default, whatever this shell has
        environ.pop("HANDOFF_DEMO", None)
    answers: dict[str, int] = {}
    signed: dict[tuple[str, str], int] = {}
    with (
        (tmp_path / "serve.log").open("a") as log,
        subprocess.Popen(
            [*HANDOFF, "serve", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=environ,
        ) as proc,
    ):
        url = f"http://127.0.0.1:{port}"
        try:
            # The banner is printed before the server listens: once it answers, it is out.
            deadline = time.monotonic() + 30
            while _status_or_none(url + "/healthz") != 200:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "handoff serve never answered /healthz"
                time.sleep(0.05)
            for path, body in (calls or {}).items():
                answers[path] = _status(url + path, body)
            for email, password in logins or []:
                signed[(email, password)] = login(url, email, password)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
    return Started(port, out, answers), signed


def _status_or_none(url: str) -> int | None:
    try:
        return _status(url)
    except OSError:
        return None


def printed(output: str, label: str) -> str:
    """The value after ``label`` on its line of the banner."""
    line = next((x for x in output.splitlines() if x.strip().startswith(label)), None)
    assert line is not None, f"no {label!r} line in:\n{output}"
    return line.strip().removeprefix(label).strip()


def rows(tmp_path: Path, table: str) -> list[Any]:
    with sqlite3.connect(tmp_path / "data" / "handoff.sqlite3") as db:
        return db.execute(f"SELECT id FROM {table} ORDER BY id").fetchall()


def test_the_demo_on_a_new_database_prints_a_sign_in_that_works_once(tmp_path: Path) -> None:
    env = {"HANDOFF_DEMO": "true"}
    first, _ = serve(tmp_path, env, calls={"/demo/widget.html": None})
    out = first.output
    assert printed(out, "agent console") == f"{first.url}/console/"
    assert printed(out, "demo page").startswith(f"{first.url}/demo/widget.html")
    email, password = printed(out, "email"), printed(out, "password")
    assert email == "demo@example.com" and len(password) >= 16
    assert "handoff set-password --email demo@example.com" in out
    assert "first run?" not in out  # there is an agent now
    assert first.answers == {"/demo/widget.html": 200}

    # The printed sign-in works; a second start makes nothing and prints no password.
    second, signed = serve(tmp_path, env, logins=[(email, password), (email, "wrong-one")])
    assert signed == {(email, password): 200, (email, "wrong-one"): 401}
    assert password not in second.output and "password  " not in second.output
    assert printed(second.output, "demo agent").startswith("demo@example.com")
    assert rows(tmp_path, "bots") == [("bot_demo",)] and len(rows(tmp_path, "agents")) == 1

    # Lost it: set-password prints a new one, and only that one signs in.
    reset = run(tmp_path, "set-password", "--email", email,
                env={"HANDOFF_DATA_DIR": str(tmp_path / "data")})
    assert reset.returncode == 0, reset.stderr
    made = json.loads(reset.stdout)
    assert made["email"] == email and made["password_set"] and made["password"] != password
    _, signed = serve(tmp_path, env, logins=[(email, made["password"]), (email, password)])
    assert signed == {(email, made["password"]): 200, (email, password): 401}
    assert len(rows(tmp_path, "agents")) == 1


def test_with_the_demo_off_there_is_no_demo_and_a_first_run_hint(tmp_path: Path) -> None:
    calls: dict[str, bytes | None] = {
        "/demo/widget.html": None,
        "/demo/": None,
        "/demo/api/converse": b'{"ConversationID": "demo-off-12345"}',
    }
    started, _ = serve(tmp_path, {}, calls=calls)  # HANDOFF_DEMO unset: off
    assert set(started.answers.values()) == {404}, started.answers
    out = started.output
    assert printed(out, "agent console") == f"{started.url}/console/"
    assert "demo page" not in out and "demo@example.com" not in out
    assert rows(tmp_path, "bots") == [] and rows(tmp_path, "agents") == []
    assert "first run? no agent can sign in yet" in out
    assert "handoff create-bot --name 'My bot'" in out
    assert "--bot <bot id> --role admin" in out

    # With a bot, the hint names it, and its command (the CLI's real flags) makes an agent.
    data = {"HANDOFF_DATA_DIR": str(tmp_path / "data")}
    bot = json.loads(run(tmp_path, "create-bot", "--name", "Shop", env=data).stdout)
    again, _ = serve(tmp_path, {"HANDOFF_DEMO": "false"})
    command = printed(again.output, "handoff create-agent")
    assert f"--bot {bot['bot_id']} --role admin" in command
    assert "handoff create-bot" not in again.output
    made = run(tmp_path, *shlex.split("create-agent " + command), env=data)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["bots"] == [bot["bot_id"]]
    last, signed = serve(tmp_path, {}, logins=[("you@example.com", "choose-one")])
    assert signed == {("you@example.com", "choose-one"): 200}
    assert "first run?" not in last.output


def test_set_password_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    data = {"HANDOFF_DATA_DIR": str(tmp_path / "data")}
    missing = run(tmp_path, "set-password", "--email", "nobody@example.com", env=data)
    assert missing.returncode == 1 and "no such agent" in missing.stderr
    empty = run(tmp_path, "set-password", "--email", "nobody@example.com", "--password", "",
                env=data)
    assert empty.returncode == 1 and "must not be empty" in empty.stderr
    assert "Traceback" not in missing.stderr + empty.stderr
