"""compose.yaml, checked without Docker: every server on one database, one Redis and one
key, Redis that keeps what it is given, the schema migrated first, and nginx running the
tested deploy/nginx.conf with only its upstream addresses changed."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from handoff.config import Settings
from tests.integration.dockerfile import ROOT, image_env

COMPOSE = ROOT / "compose.yaml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
SERVERS = ("handoff-1", "handoff-2")


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


def test_compose_servers_believe_x_forwarded_for_from_nginx_only() -> None:
    loaded = compose()
    nginx_ip = loaded["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    subnet = loaded["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(nginx_ip) in ipaddress.ip_network(subnet)
    for name in SERVERS:
        env = loaded["services"][name]["environment"]
        # The setting as the server parses it: nginx's address, and nothing wider.
        trusted = Settings(trusted_proxies=env["HANDOFF_TRUSTED_PROXIES"]).trusted_proxies
        assert [ipaddress.ip_network(t) for t in trusted] == [ipaddress.ip_network(nginx_ip)]


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
    # An upstream's `server ADDRESS ...;` lines (not the `server {` blocks).
    upstreams = re.findall(r"^\s*server\s+([^\s{;]+)[^{\n]*;", NGINX_CONF.read_text(), re.MULTILINE)
    assert sorted(upstreams) == sorted(rewrites), (
        f"deploy/nginx.conf's upstreams {upstreams} are not the ones compose.yaml rewrites "
        f"{sorted(rewrites)}: change the sed in compose.yaml with it"
    )
