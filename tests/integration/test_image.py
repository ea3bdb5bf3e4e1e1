"""The Docker image, checked without a Docker daemon.

This machine has no daemon and no access to base images, so the image is never built
here. What is checked: the Dockerfile (parsed with dockerfile-parse) keeps its promises;
what .dockerignore lets into the build context is what the build reads; and the builder
stage's essence runs for real: a wheel built from exactly the files the image's build
context gets, installed into a fresh virtualenv, migrating, serving, answering the
image's own HEALTHCHECK command and running the preset dialogues it carries as data files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from handoff.config import Settings
from tests.conftest import free_port
from tests.integration.dockerfile import (
    ROOT,
    build_context_sources,
    context_files,
    data_files,
    dockerignore_allows,
    exec_form,
    healthcheck_command,
    image_env,
    stages,
    values,
)


def test_the_dockerfile_is_multi_stage_slim_and_unprivileged() -> None:
    builder, runtime = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert re.search(r"\bAS\s+builder$", values(builder, "FROM")[0], re.IGNORECASE)
    # The runtime stage starts from a slim Python and takes only the builder's virtualenv.
    assert "-slim" in values(runtime, "FROM")[0]
    copies = values(runtime, "COPY")
    assert copies and all(c.startswith("--from=builder ") for c in copies), copies
    # The builder makes a wheel of the checkout and installs it.
    assert any("pip wheel" in run and "pip install" in run for run in values(builder, "RUN"))
    users = values(runtime, "USER")
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_image_serves_with_bubblewrap_a_healthcheck_and_a_data_volume() -> None:
    runtime = stages()[-1]
    installs = " ".join(values(runtime, "RUN"))
    assert re.search(r"apt-get install [^&]*\bbubblewrap\b", installs), installs
    # tini (PID 1) hands on signals and reaps; what it starts is `handoff serve`.
    entrypoint = exec_form(values(runtime, "ENTRYPOINT")[-1])
    command = entrypoint + exec_form(values(runtime, "CMD")[-1])
    if command[:2] == ["tini", "--"]:
        command = command[2:]
    assert command == ["handoff", "serve"], command
    env = image_env()
    assert env["HANDOFF_HOST"] == "0.0.0.0"
    assert values(runtime, "EXPOSE") == [env["HANDOFF_PORT"]]
    assert env["HANDOFF_DATA_DIR"] in exec_form(values(runtime, "VOLUME")[-1])
    # Every HANDOFF_* variable the image sets is a real setting.
    for name in env:
        if name.startswith("HANDOFF_"):
            assert name.removeprefix("HANDOFF_").lower() in Settings.model_fields, name
    health = values(runtime, "HEALTHCHECK")[-1]
    assert "/healthz" in health and "HANDOFF_PORT" in health, health


def test_the_build_context_holds_what_the_build_reads() -> None:
    assert "dialogues/execute_handoff.yaml" in data_files()
    sent = [f for source in build_context_sources() for f in context_files(source)]
    for source in build_context_sources():
        assert context_files(source), f"{source} is COPYed but .dockerignore keeps it all out"
    assert "handoff/storage/migrations/versions/0001_initial.py" in sent
    for path in data_files():
        assert path in sent, f"{path} ships in the wheel but is not in the build context"
    # Nothing local leaks in: databases, virtualenvs, caches, the tests, other examples.
    for kept_out in (
        "var/handoff.sqlite3",
        ".venv/bin/python",
        "tests/conftest.py",
        ".git/HEAD",
        "handoff/__pycache__/app.cpython-311.pyc",
        "client_examples/python_agent.py",
    ):
        assert not dockerignore_allows(kept_out), kept_out
    assert not any("__pycache__" in f for f in sent)


# The builder stage, outside Docker ----------------------------------------------------


def wait_healthy(port: int, proc: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return
        except OSError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)


def post(url: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


@pytest.mark.timeout(240)
def test_a_wheel_of_the_build_context_installs_migrates_and_serves(tmp_path: Path) -> None:
    # The build context: only what the builder stage COPYs, as .dockerignore lets it in.
    context = tmp_path / "context"
    for source in build_context_sources():
        for path in context_files(source):
            (context / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, context / path)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "w"),
            ".",
        ],
        cwd=context,
        check=True,
        capture_output=True,
        timeout=180,
    )
    (wheel,) = (tmp_path / "w").glob("handoff-*.whl")

    # A fresh virtualenv with the wheel. Its dependencies are this test's own (a .pth
    # file): the test installs nothing from a registry, the image's builder does.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_handoff_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    port = free_port()
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")},
        **image_env(),
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        # The image listens on every address; a test on a shared machine, on loopback.
        "HANDOFF_HOST": "127.0.0.1",
        "HANDOFF_PORT": str(port),
        "HANDOFF_DATA_DIR": str(data),
    }
    where = subprocess.run(
        [python, "-c", "import handoff; print(handoff.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), f"not the installed wheel: {where}"

    def handoff(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [str(venv / "bin" / "handoff"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    assert handoff("migrate") == {"ok": True, "revision": "head"}
    bot = handoff("create-bot", "--name", "Image bot")

    healthcheck = healthcheck_command()
    assert healthcheck[0] == "python"
    log = tmp_path / "serve.log"
    with (
        log.open("w") as out,
        subprocess.Popen(
            [str(venv / "bin" / "handoff"), "serve"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=out,
            text=True,
        ) as proc,
    ):
        try:
            wait_healthy(port, proc, log)
            # The image's own HEALTHCHECK command, with the image's environment.
            probe = subprocess.run(
                [str(python), *healthcheck[1:]], env=env, capture_output=True, timeout=30
            )
            assert probe.returncode == 0, probe.stderr
            # The preset dialogues came with the wheel: execute_handoff answers with them.
            status, made = post(
                f"http://127.0.0.1:{port}/api/v1/bots/{bot['bot_id']}/handoff", {}, bot["api_key"]
            )
            assert status == 201 and made["ConversationID"], made
            assert made["messages"], made
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    # The server is gone: the same HEALTHCHECK now fails.
    probe = subprocess.run(
        [str(python), *healthcheck[1:]], env=env, capture_output=True, timeout=30
    )
    assert probe.returncode != 0
    assert "custom actions       sandboxed (bubblewrap" in log.read_text(), log.read_text()


# The sandbox where the runtime refuses user namespaces ---------------------------------


def test_a_server_that_may_not_create_user_namespaces_says_so_and_serves(tmp_path: Path) -> None:
    """What a container whose runtime refuses namespaces gets (docs/deployment.md): the
    server's own user namespace allows no more, as a strict seccomp profile would."""
    unshare = shutil.which("unshare")
    assert unshare and shutil.which("bwrap"), "util-linux unshare and bubblewrap are required"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")},
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_PORT": str(port),
        "HANDOFF_RUNNER_ALLOW_UNSANDBOXED": "true",  # changes nothing where bwrap is there
    }
    script = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"'
    handoff = [sys.executable, "-m", "handoff.cli", "serve"]
    log = tmp_path / "serve.log"
    with (
        log.open("w") as err,
        subprocess.Popen(
            [unshare, "--user", "--map-root-user", "sh", "-c", script, "sh", *handoff],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = next((x for x in proc.stdout if x.startswith("  custom actions")), "")
            wait_healthy(port, proc, log)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    line = line.removeprefix("  custom actions").strip()
    assert line.startswith("unavailable: bubblewrap "), line
    assert "is installed but cannot start a sandbox" in line and "(ENOSPC)" in line, line
    assert "custom action worker for bot handoff-start-up-check did not start" in log.read_text()
