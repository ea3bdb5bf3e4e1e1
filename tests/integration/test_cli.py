"""The ``handoff`` command line, run as a real process."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

HANDOFF = [sys.executable, "-m", "handoff.cli"]
INSTALL_PACKAGE = Path(__file__).resolve().parents[2] / "scripts" / "install-package"
APT = "apt-get -qq -y -o DPkg::Lock::Timeout=300"  # how the script calls apt-get


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


# ------------------------------------------------ handoff serve: the custom-actions line


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def serve_custom_actions_line(tmp_path: Path, env: dict[str, str]) -> str:
    """Start the real ``handoff serve`` on a free port; its custom-actions line, once it serves."""
    port = free_port()
    environ = {**os.environ, "HANDOFF_DATA_DIR": str(tmp_path / "data"), **env}
    with (
        (tmp_path / "serve.log").open("w") as log,
        subprocess.Popen(
            [*HANDOFF, "serve", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=environ,
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = next((x for x in proc.stdout if x.startswith("  custom actions")), "")
            assert line, (tmp_path / "serve.log").read_text()
            # Whatever the sandbox's state, the server starts and answers.
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "handoff serve never answered /healthz"
                    time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return line.removeprefix("  custom actions").strip()


def test_serve_says_custom_actions_are_sandboxed(tmp_path: Path) -> None:
    # No skip: make test installs bubblewrap, and CI never skips.
    assert shutil.which("bwrap"), "bubblewrap (bwrap) is required: make test installs it"
    line = serve_custom_actions_line(tmp_path, {"HANDOFF_RUNNER_ALLOW_UNSANDBOXED": "false"})
    assert re.fullmatch(r"sandboxed \(bubblewrap \d+(\.\d+)+\)", line), line


def test_serve_says_custom_actions_are_unsandboxed_without_bwrap_when_allowed(
    tmp_path: Path,
) -> None:
    env = {"PATH": str(tmp_path / "no-bwrap"), "HANDOFF_RUNNER_ALLOW_UNSANDBOXED": "true"}
    line = serve_custom_actions_line(tmp_path, env)
    assert line == "UNSANDBOXED (HANDOFF_RUNNER_ALLOW_UNSANDBOXED=true; development only)"


def test_serve_says_custom_actions_are_unavailable_without_bwrap(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "no-bwrap"), "HANDOFF_RUNNER_ALLOW_UNSANDBOXED": "false"}
    line = serve_custom_actions_line(tmp_path, env)
    assert line.startswith("unavailable: bubblewrap (bwrap) is not installed"), line
    assert "apt-get install bubblewrap" in line and "HANDOFF_RUNNER_ALLOW_UNSANDBOXED" in line


def test_serve_says_custom_actions_are_unavailable_when_bwrap_cannot_start_a_sandbox(
    tmp_path: Path,
) -> None:
    # A bwrap that answers --version but may not create namespaces, like one on a kernel
    # without unprivileged user namespaces.
    bwrap = executable(
        tmp_path / "bin" / "bwrap",
        '[ "$1" = --version ] && { echo "bubblewrap 0.8.0"; exit 0; }\n'
        'echo "bwrap: No permissions to create new namespace" >&2\nexit 1\n',
    )
    env = {"PATH": str(bwrap.parent), "HANDOFF_RUNNER_ALLOW_UNSANDBOXED": "false"}
    line = serve_custom_actions_line(tmp_path, env)
    assert line.startswith(f"unavailable: bubblewrap 0.8.0 at {bwrap} is installed but"), line
    assert "No permissions to create new namespace" in line


# --------------------------------------------- scripts/install-package (make run, make test)


def machine(tmp_path: Path, *, uid: int = 0, sudo: str | None = None, lists: bool = True) -> Path:
    """A PATH with stand-ins for id, sudo and apt (which logs its calls and installs bwrap)."""
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    executable(bin_dir / "id", f"echo {uid}\n")
    for tool in ("env", "true"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    if sudo == "works":
        body = f'echo "sudo $*" >> {log}\n[ "$1" = -n ] && shift\nexec "$@"\n'
        executable(bin_dir / "sudo", body)
    elif sudo == "asks":
        executable(bin_dir / "sudo", "echo 'sudo: a password is required' >&2\nexit 1\n")
    if lists:
        (tmp_path / "lists").touch()
    bwrap = "#!/bin/sh\necho bubblewrap 0.9.0\n"
    chmod = shutil.which("chmod") or "/bin/chmod"
    executable(
        bin_dir / "apt-cache", f'echo "apt-cache $*" >> {log}\n[ -e {tmp_path / "lists"} ]\n'
    )
    executable(
        bin_dir / "apt-get",
        f'echo "apt-get $*" >> {log}\n'
        f'case "$*" in\n'
        f"  *update*) : > {tmp_path / 'lists'} ;;\n"
        f"  *install*) [ -e {tmp_path / 'lists'} ] || exit 100\n"
        f"    printf '{bwrap}' > {bin_dir / 'bwrap'}; {chmod} 755 {bin_dir / 'bwrap'} ;;\n"
        f"esac\n",
    )
    return bin_dir


def install_bubblewrap(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(INSTALL_PACKAGE), *args],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir)},
        timeout=30,
        check=False,
    )


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_install_bubblewrap_does_nothing_when_bwrap_is_there(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, lists=False)
    executable(bin_dir / "bwrap", "echo bubblewrap 0.9.0\n")
    done = install_bubblewrap(bin_dir, "--required")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert calls(tmp_path) == []  # no apt-get update on every make


@pytest.mark.parametrize("lists", [True, False])
def test_install_bubblewrap_as_root_with_apt_get(tmp_path: Path, lists: bool) -> None:
    done = install_bubblewrap(machine(tmp_path, lists=lists), "--required")
    assert done.returncode == 0, done.stderr
    assert "installed: bubblewrap 0.9.0" in done.stderr
    update = [] if lists else [f"{APT} update"]  # only when the lists lack the package
    assert calls(tmp_path) == ["apt-cache show bubblewrap", *update, f"{APT} install bubblewrap"]


def test_install_bubblewrap_with_sudo_that_needs_no_password(tmp_path: Path) -> None:
    done = install_bubblewrap(machine(tmp_path, uid=1000, sudo="works"))
    assert done.returncode == 0, done.stderr
    assert "installing it with sudo -n apt-get" in done.stderr
    assert f"sudo -n env DEBIAN_FRONTEND=noninteractive {APT} install bubblewrap" in calls(tmp_path)


@pytest.mark.parametrize("sudo", ["asks", None])
def test_install_bubblewrap_says_the_command_when_it_may_not_install(
    tmp_path: Path, sudo: str | None
) -> None:
    bin_dir = machine(tmp_path, uid=1000, sudo=sudo)
    done = install_bubblewrap(bin_dir)
    assert done.returncode == 0  # make run carries on and starts the server
    assert "\n    sudo apt-get install bubblewrap\n" in done.stderr
    assert "dnf install bubblewrap" in done.stderr and "pacman -S bubblewrap" in done.stderr
    assert not [c for c in calls(tmp_path) if c.startswith("apt-get")]
    required = install_bubblewrap(bin_dir, "--required")  # make test with CI=true
    assert required.returncode == 1 and "CI=true" in required.stderr


def test_install_bubblewrap_names_this_machines_package_manager(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=1000)
    (bin_dir / "apt-get").unlink()
    executable(bin_dir / "dnf", "exit 1\n")
    done = install_bubblewrap(bin_dir)
    assert done.returncode == 0
    assert "\n    sudo dnf install bubblewrap\n" in done.stderr


def test_install_bubblewrap_says_the_command_when_apt_get_fails(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path)
    executable(bin_dir / "apt-get", "echo 'E: Failed to fetch' >&2\nexit 100\n")
    done = install_bubblewrap(bin_dir)
    assert done.returncode == 0
    assert "E: Failed to fetch" in done.stderr and "apt-get could not install it" in done.stderr
    assert "\n    apt-get install bubblewrap\n" in done.stderr  # root: no sudo in the command


# ------------------------------------------- disable-agent, enable-agent, delete-agent


async def _agent_in(data_dir: Path, email: str) -> str:
    import asyncio

    from handoff.storage.agents import AgentRepo
    from handoff.storage.bots import BotRepo
    from handoff.storage.db import make_engine
    from handoff.storage.migrate import upgrade

    url = f"sqlite+aiosqlite:///{data_dir / 'handoff.sqlite3'}"
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    await upgrade(url)
    engine = make_engine(url)
    try:
        bot, _ = await BotRepo(engine).create("Shop")
        return (await AgentRepo(engine).create(email, "pw", bots=[bot.id])).id
    finally:
        await engine.dispose()


async def test_disable_enable_and_delete_agent_print_one_json_object(tmp_path: Path) -> None:
    agent_id = await _agent_in(tmp_path / "fresh" / "data", "anna@example.com")
    steps = [
        ("disable-agent", {"disabled": True}),
        ("enable-agent", {"disabled": False}),
        ("delete-agent", {"deleted": True}),
    ]
    for command, expected in steps:
        done = run(tmp_path, command, "--email", "Anna@Example.com")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "agent_id": agent_id,
            "email": "anna@example.com",
            **expected,
        }


def test_agent_commands_name_an_unknown_email(tmp_path: Path) -> None:
    done = run(tmp_path, "disable-agent", "--email", "nobody@example.com")
    assert done.returncode == 1 and done.stdout == ""
    assert "--email nobody@example.com: no such agent" in done.stderr
    assert "Traceback" not in done.stderr


def test_install_package_names_chromium_for_the_browser_tests(tmp_path: Path) -> None:
    done = install_bubblewrap(machine(tmp_path, uid=1000, sudo="asks"), "chromium", "chromium")
    assert done.returncode == 0
    assert "chromium (chromium) is missing" in done.stderr
    assert "\n    sudo apt-get install chromium\n" in done.stderr
    assert "browser tests" in done.stderr and "sandbox_unavailable" not in done.stderr
    required = install_bubblewrap(
        machine(tmp_path / "ci", uid=1000, sudo="asks"), "--required", "chromium", "chromium"
    )
    assert required.returncode == 1 and "never skip" in required.stderr


def test_install_package_names_nginx_for_the_multi_process_tests(tmp_path: Path) -> None:
    done = install_bubblewrap(machine(tmp_path, uid=1000, sudo="asks"), "nginx", "nginx")
    assert done.returncode == 0
    assert "nginx is missing" in done.stderr
    assert "\n    sudo apt-get install nginx\n" in done.stderr
    assert "multi-process tests" in done.stderr and "browser tests" not in done.stderr
