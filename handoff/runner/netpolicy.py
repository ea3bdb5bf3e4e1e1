"""Which destinations bot code may connect to, checked by the egress proxy.

The posture is the one cloud providers document against server-side request
forgery: the public internet is open, and private space is closed unless the
operator lists a destination. Private space is every address that is not a
global unicast one (loopback, unspecified, link-local with the metadata
service, the private and carrier-grade NAT ranges, multicast, reserved,
documentation and benchmarking ranges, broadcast), IPv6 forms that carry such
an IPv4 address (v4-mapped, v4-compatible, NAT64, 6to4), and every address of
this machine, whatever its range. Block rules (the server's own stores) win
over allow rules, so listing ``10.0.0.0/8:*`` does not open the database.

The check is made on an address, never on a name or a spelling: the proxy
resolves names itself and connects to the address it checked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BlockRule", "NetworkPolicy", "is_public", "local_addresses"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Connecting to an unspecified address reaches this machine too.
_ALWAYS_LOCAL = ("127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128")

# Not global, though ipaddress (3.11) calls them so: IETF protocol assignments,
# deprecated site-local IPv6, local-use NAT64.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n) for n in ("192.0.0.0/24", "fec0::/10", "64:ff9b:1::/48")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to (v4-mapped, NAT64, 6to4), if any."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr.sixtofour


def is_public(addr: IPAddress) -> bool:
    """Whether ``addr`` is a global unicast address: open to bot code by default."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_ipv4(addr)
        if inner is not None:
            return is_public(inner)
        if addr in _V4_COMPATIBLE:  # ::a.b.c.d, deprecated; ::1 and :: are in here too
            return False
    return (
        addr.is_global
        and not addr.is_multicast
        and not addr.is_reserved
        and not addr.is_private
        and not addr.is_loopback
        and not addr.is_link_local
        and not addr.is_unspecified
        and not any(addr.version == n.version and addr in n for n in _NOT_PUBLIC)
    )


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
    """Connections to ``network`` on ``port`` (every port when None): refused or allowed.

    The same shape serves block rules and the operator's allow rules.
    """

    network: IPNetwork
    port: int | None

    def matches(self, addr: IPAddress, port: int) -> bool:
        return (self.port is None or self.port == port) and (
            addr.version == self.network.version and addr in self.network
        )


def _split(entry: str, what: str = "blocked") -> tuple[str, int | None]:
    host, sep, port_text = entry.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"{what} entry {entry!r} must be host:port (port may be *)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if port_text == "*":
        return host, None
    try:
        port = int(port_text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError(f"{what} entry {entry!r} has no valid port (1-65535 or *)")
    return host, port


def _networks(host: str, local: set[IPNetwork], what: str = "blocked") -> set[IPNetwork]:
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
            f"{what} host {host!r} does not resolve ({exc}); fix the entry "
            "rather than leave it unenforced"
        ) from None
    return {ipaddress.ip_network(str(info[4][0]).split("%")[0]) for info in infos}


def _candidates(ip: str) -> list[IPAddress]:
    addr: IPAddress = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_ipv4(addr)
        if inner is not None:
            return [addr, inner]
    return [addr]


def _parse(entries: Iterable[str], local: set[IPNetwork], what: str) -> list[BlockRule]:
    rules: list[BlockRule] = []
    for entry in entries:
        host, port = _split(entry, what)
        nets = _networks(host, local, what)
        rules.extend(BlockRule(net, port) for net in sorted(nets, key=str))
    return rules


class NetworkPolicy:
    """Public addresses are open; private space only where an allow rule says so.

    ``rules`` are block rules and win over everything; ``allowed`` opens
    (network, port) pairs of private space; ``local`` are this machine's
    addresses, private whatever their range.
    """

    def __init__(
        self,
        rules: Iterable[BlockRule],
        allowed: Iterable[BlockRule] = (),
        local: Iterable[IPNetwork] = (),
    ) -> None:
        self.rules = tuple(rules)
        self.allowed = tuple(allowed)
        self.local = tuple(local)

    @classmethod
    def from_entries(cls, entries: Iterable[str], allowed: Iterable[str] = ()) -> NetworkPolicy:
        """Parse ``host:port`` entries (see RunnerConfig.blocked, .allowed_private).

        Names are resolved now; ``localhost`` means every address of this machine.
        """
        local = local_addresses()
        return cls(
            _parse(entries, local, "blocked"),
            _parse(allowed, local, "allowed"),
            sorted(local, key=str),
        )

    def refusal(self, ip: str, port: int) -> str | None:
        """Why a connection to ``ip``:``port`` must be refused, or None when it may go."""
        candidates = _candidates(ip)
        if any(rule.matches(a, port) for rule in self.rules for a in candidates):
            return "the server's own services are not reachable from custom actions"
        private = any(
            not is_public(a) or any(a.version == n.version and a in n for n in self.local)
            for a in candidates
        )
        if private and not any(rule.matches(a, port) for rule in self.allowed for a in candidates):
            return (
                f"{candidates[-1]} is a private address (this machine, a private "
                "network, link-local or reserved space), which custom actions may "
                "reach only when the operator lists it in HANDOFF_RUNNER_ALLOWED_PRIVATE"
            )
        return None

    def blocks(self, ip: str, port: int) -> bool:
        """Whether a connection to ``ip``:``port`` must be refused."""
        return self.refusal(ip, port) is not None
