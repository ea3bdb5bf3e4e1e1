"""Which destinations bot code may not connect to, checked by the egress proxy."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BlockRule", "NetworkPolicy", "local_addresses"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Connecting to an unspecified address reaches this machine too.
_ALWAYS_LOCAL = ("127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128")


def local_addresses() -> set[IPNetwork]:
    """Every address this machine answers on, so ``localhost`` cannot be reached by its LAN IP."""
    nets: set[IPNetwork] = {ipaddress.ip_network(n) for n in _ALWAYS_LOCAL}
    try:
        last = ""
        for line in Path("/proc/net/fib_trie").read_text().splitlines():
            text = line.strip()
            if text.startswith(("|--", "+--")):
                last = text[3:].strip().split("/")[0]
            elif "/32 host LOCAL" in text and last:
                nets.add(ipaddress.ip_network(last))
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            nets.add(ipaddress.ip_network(ipaddress.IPv6Address(int(raw, 16))))
    except (OSError, ValueError, IndexError):
        pass
    try:
        for addr in socket.gethostbyname_ex(socket.gethostname())[2]:
            nets.add(ipaddress.ip_network(addr))
    except OSError:
        pass
    return nets


@dataclass(frozen=True)
class BlockRule:
    """Connections to ``network`` on ``port`` (every port when None) are refused."""

    network: IPNetwork
    port: int | None

    def matches(self, addr: IPAddress, port: int) -> bool:
        return (self.port is None or self.port == port) and (
            addr.version == self.network.version and addr in self.network
        )


def _split(entry: str) -> tuple[str, int | None]:
    host, sep, port_text = entry.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"blocked entry {entry!r} must be host:port (port may be *)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if port_text == "*":
        return host, None
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"blocked entry {entry!r} has no valid port")
    return host, port


def _networks(host: str, local: set[IPNetwork]) -> set[IPNetwork]:
    if host.lower() == "localhost":
        return local
    try:
        return {ipaddress.ip_network(host, strict=False)}
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise ValueError(
            f"blocked host {host!r} does not resolve ({exc}); fix the entry "
            "rather than leave it unenforced"
        ) from None
    return {ipaddress.ip_network(str(info[4][0]).split("%")[0]) for info in infos}


class NetworkPolicy:
    """A blocklist of (network, port) pairs; everything else on the network is allowed."""

    def __init__(self, rules: Iterable[BlockRule]) -> None:
        self.rules = tuple(rules)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> NetworkPolicy:
        """Parse ``host:port`` entries (see RunnerConfig.blocked); names are resolved now."""
        local = local_addresses()
        rules: list[BlockRule] = []
        for entry in entries:
            host, port = _split(entry)
            rules.extend(BlockRule(net, port) for net in sorted(_networks(host, local), key=str))
        return cls(rules)

    def blocks(self, ip: str, port: int) -> bool:
        """Whether a connection to ``ip``:``port`` must be refused."""
        addr: IPAddress = ipaddress.ip_address(ip.split("%")[0])
        candidates: list[IPAddress] = [addr]
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            candidates.append(addr.ipv4_mapped)
        return any(rule.matches(a, port) for rule in self.rules for a in candidates)
