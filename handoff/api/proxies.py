"""The client's address behind a load balancer: ``X-Forwarded-For`` from trusted proxies only.

Behind nginx every request comes from nginx's address, so whatever counts per address
(the sign-in throttle, the demo's limit) would count every client together. A request
whose peer is one of ``HANDOFF_TRUSTED_PROXIES`` has its address taken from
``X-Forwarded-For``, read from the right: the first address that is not itself a
trusted proxy is the client (the left part of the header is whatever the client sent,
so it is never believed). A request from anywhere else keeps its peer's address,
header or not: a client that reaches a process directly cannot choose its address.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.typedefs import Middleware

from handoff.api.middleware import Handler

__all__ = ["Network", "forwarded_client", "parse_networks", "trusted_proxy_middleware"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str]) -> list[Network]:
    """Addresses or networks (``10.0.0.0/8``, ``127.0.0.1``, ``::1``), as Settings checked."""
    return [ipaddress.ip_network(value, strict=False) for value in values]


def _trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def forwarded_client(peer: str, header: str | None, networks: list[Network]) -> str:
    """The client's address for a request from ``peer`` with ``X-Forwarded-For: header``."""
    if not header or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage (or a port): what is left of it cannot be believed either
        client = hop
        if not _trusted(hop, networks):
            break
    return client


def trusted_proxy_middleware(networks: list[Network]) -> Middleware:
    """``request.remote`` becomes the client's address for requests from ``networks``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote
        header = request.headers.get("X-Forwarded-For")
        if peer is None or header is None:
            return await handler(request)
        client = forwarded_client(peer, header, networks)
        if client == peer:
            return await handler(request)
        return await handler(request.clone(remote=client))

    return middleware
