"""The Docker image and the compose example, checked without a Docker daemon.

This machine has no daemon and no access to base images, so the image is never built
here. What is checked: the Dockerfile (parsed with dockerfile-parse) keeps its promises;
what .dockerignore lets into the build context is what the build reads; compose.yaml
wires every server to the same stores and key; and the builder stage's essence runs
for real: a wheel built from exactly the files the image's build context gets, installed
into a fresh virtualenv, migrating, serving, answering the image's own HEALTHCHECK
command and running the preset dialogues it carries as data files.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from sqlalchemy.engine import make_url

from handoff.config import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
SERVERS = ("handoff-1", "handoff-2")


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage (each starts at its FROM)."""
    found: list[list[dict[str, Any]]] = []
    for item in DockerfileParser(path=str(DOCKERFILE)).structure:
        if item["instruction"] == "FROM":
            found.append([])
        if found and item["instruction"] != "COMMENT":
            found[-1].append(item)
    return found


def values(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == instruction]


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list), f"{value!r}: use the exec (JSON list) form"
    return [str(x) for x in parsed]


def image_env() -> dict[str, str]:
    return dict(DockerfileParser(path=str(DOCKERFILE)).envs)


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


def healthcheck_command() -> list[str]:
    health = values(stages()[-1], "HEALTHCHECK")[-1]
    return exec_form(health.split("CMD", 1)[1].strip())


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last pattern that matches a path decides; ``!`` lets it in."""
    allowed = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            allowed = negate
    return allowed


def build_context_sources() -> list[str]:
    """What the builder stage COPYs from the build context."""
    sources: list[str] = []
    for value in values(stages()[0], "COPY"):
        *srcs, _dest = shlex.split(value)
        sources += [s for s in srcs if not s.startswith("--")]
    return sources


def data_files() -> list[str]:
    """Every file pyproject.toml ships as a data file (the presets, the demo page)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["data-files"].values()
    return sorted(
        str(p.relative_to(ROOT)) for g in globs for pattern in g for p in ROOT.glob(pattern)
    )


def context_files(source: str) -> list[str]:
    """The files under a COPY source that reach the build context (Docker walks an
    excluded folder for the files a ``!`` pattern lets back in)."""
    path = ROOT / source
    found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sorted(rel for p in found if dockerignore_allows(rel := str(p.relative_to(ROOT))))


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


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_wires_every_server_to_one_database_one_redis_and_one_key() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", *SERVERS, "nginx"} <= set(services)
    envs = {name: services[name]["environment"] for name in ("migrate", *SERVERS)}
    for name, env in envs.items():
        for key in env:
            assert key.startswith("HANDOFF_"), (name, key)
            assert key.removeprefix("HANDOFF_").lower() in Settings.model_fields, (name, key)
        url = make_url(env["HANDOFF_DATABASE_URL"].replace("${POSTGRES_PASSWORD:-handoff}", "pw"))
        assert (url.drivername, url.host, url.database) == (
            "postgresql+asyncpg",
            "postgres",
            "handoff",
        )
        assert env["HANDOFF_REDIS_URL"].startswith("redis://redis:")
        # The key comes from the operator, never a default: a token from one process
        # must verify on the other.
        assert env["HANDOFF_SECRET_KEY"].startswith("${HANDOFF_SECRET_KEY:?")
    assert len({json.dumps(env, sort_keys=True) for env in envs.values()}) == 1
    postgres = services["postgres"]["environment"]
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == ("handoff", "handoff")

    # Redis keeps what it is given, across a restart too.
    redis_command = " ".join(services["redis"]["command"])
    assert "--maxmemory-policy noeviction" in redis_command
    assert "--appendonly yes" in redis_command
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])

    # The schema is migrated once, before any server starts.
    assert services["migrate"]["command"] == ["migrate"]
    for name in SERVERS:
        server = services[name]
        assert server["command"] == ["serve"]
        assert server["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert server["build"] == "." and server["image"] == services["migrate"]["image"]
        assert "seccomp=unconfined" in server["security_opt"]
        assert server["environment"]["HANDOFF_PORT"] == image_env()["HANDOFF_PORT"]
    assert set(services["nginx"]["depends_on"]) == set(SERVERS)
    assert services["nginx"]["ports"] == ["8080:8080"]


def nginx_rewrites() -> dict[str, str]:
    """The addresses compose's nginx swaps in deploy/nginx.conf: tested one → service."""
    script = " ".join(compose()["services"]["nginx"]["command"])
    return {
        old.replace("\\.", "."): new
        for old, new in re.findall(r"-e 's/([0-9.\\]+:\d+)/([\w-]+:\d+)/'", script)
    }


def test_compose_runs_the_tested_nginx_config_with_only_the_addresses_changed() -> None:
    nginx = compose()["services"]["nginx"]
    assert "./deploy/nginx.conf:/etc/handoff/nginx.conf:ro" in nginx["volumes"]
    rewrites = nginx_rewrites()
    port = image_env()["HANDOFF_PORT"]
    assert sorted(rewrites.values()) == [f"{name}:{port}" for name in SERVERS]
    if not NGINX_CONF.exists():
        pytest.skip("deploy/nginx.conf comes with the nginx front (branch scale-multi)")
    upstreams = re.findall(r"^\s*server\s+(\S+?)(?:\s|;)", NGINX_CONF.read_text(), re.MULTILINE)
    assert sorted(upstreams) == sorted(rewrites), (
        f"deploy/nginx.conf's upstreams {upstreams} are not the ones compose.yaml rewrites "
        f"{sorted(rewrites)}: change the sed in compose.yaml with it"
    )


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
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "w"), "."],
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
