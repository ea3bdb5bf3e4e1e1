"""Debian's nginx in front of the cluster, running THE configuration of the docs.

``deploy/nginx.conf`` is what docs/deployment.md tells operators to install; this
renders it with the test's ports (each substitution must hit exactly once, so a
changed file fails here instead of going untested) inside a minimal main file of
the kind Debian's ``/etc/nginx/nginx.conf`` is, and runs nginx in the foreground
with its logs in the test's directory. The access log names the upstream that
served each request, which is how the tests see stickiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

__all__ = ["DEPLOY_CONF", "AccessLine", "Nginx"]

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
NGINX = "/usr/sbin/nginx"
_EXAMPLE_UPSTREAMS = ("127.0.0.1:8001", "127.0.0.1:8002")
_EXAMPLE_LISTEN = "listen 8080;"

_MAIN = """\
daemon off;
# One process, as root (the test's directory is root's): no workers to switch user.
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format handoff '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {dir}/access.log handoff;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/handoff.conf;
}}
"""

_ACCESS = re.compile(r'^(?P<remote>\S+) "(?P<request>[^"]*)" (?P<status>\d+) upstream=(?P<up>.*)$')


@dataclass(frozen=True)
class AccessLine:
    remote: str
    request: str
    status: int
    upstream: str

    @property
    def sid(self) -> str | None:
        """Engine.IO's session id, on every request after the handshake."""
        found = re.search(r"[?&]sid=([^& ]+)", self.request)
        return found.group(1) if found else None


def render(upstreams: list[int], listen: int, source: str | None = None) -> str:
    """``deploy/nginx.conf`` with the test's ports in place of the example ones."""
    text = source if source is not None else DEPLOY_CONF.read_text()
    example = list(_EXAMPLE_UPSTREAMS)
    assert len(upstreams) >= len(example), "the config lists two processes"
    for old, port in zip(example, upstreams, strict=False):
        assert text.count(f"server {old} ") == 1, f"deploy/nginx.conf: no single `server {old}`"
        text = text.replace(f"server {old} ", f"server 127.0.0.1:{port} ")
    assert text.count(_EXAMPLE_LISTEN) == 1, f"deploy/nginx.conf: no single `{_EXAMPLE_LISTEN}`"
    return text.replace(_EXAMPLE_LISTEN, f"listen 127.0.0.1:{listen};")


class Nginx:
    def __init__(self, directory: Path, upstreams: list[int], *, source: str | None = None) -> None:
        """``source``: the http-level configuration to render, ``deploy/nginx.conf`` unless
        told otherwise (a variant, to show what one of its lines is for)."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.site = render(upstreams, self.port, source)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self) -> subprocess.Popen[bytes]:
        assert Path(NGINX).exists() or shutil.which("nginx"), (
            "nginx is needed (Debian package nginx; .ci/run installs it)"
        )
        (self.directory / "handoff.conf").write_text(self.site)
        main = self.directory / "nginx.conf"
        main.write_text(_MAIN.format(dir=self.directory))
        command = [NGINX, "-p", str(self.directory), "-c", str(main), "-e", "stderr"]
        test = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        assert test.returncode == 0, f"nginx -t refused the configuration:\n{test.stderr}"
        with (self.directory / "stderr.log").open("w") as out:
            return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        self.proc = self._spawn()
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.poll() is None, self.logs()
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            assert time.monotonic() < deadline, f"nginx did not listen within 10 s\n{self.logs()}"
            await asyncio.sleep(0.05)

    def access(self) -> list[AccessLine]:
        path = self.directory / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        found = [_ACCESS.match(line) for line in lines]
        return [
            AccessLine(m["remote"], m["request"], int(m["status"]), m["up"]) for m in found if m
        ]

    def logs(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log", "access.log"):
            path = self.directory / name
            if path.exists():
                parts.append(f"======== nginx {name} ========\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    async def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 10)
