"""Which address is the client's, behind a trusted proxy or not (handoff/api/proxies.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from handoff.api.proxies import forwarded_client, parse_networks
from handoff.config import Settings

NGINX = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        # nginx appends the address it saw: that is the client.
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        # What the client wrote itself (left) is never believed.
        ("127.0.0.1", "1.2.3.4, 203.0.113.7", "203.0.113.7"),
        # A chain of trusted proxies: the first untrusted hop from the right.
        ("127.0.0.1", "198.51.100.9, 10.1.2.3", "198.51.100.9"),
        # Only trusted hops: the leftmost of them.
        ("127.0.0.1", "10.0.0.5, 10.1.2.3", "10.0.0.5"),
        # Garbage ends the walk: nothing left of it is believed.
        ("127.0.0.1", "198.51.100.9, not-an-address", "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", None, "127.0.0.1"),
        # A peer that is no trusted proxy keeps its own address, whatever it claims.
        ("203.0.113.50", "127.0.0.1", "203.0.113.50"),
        ("::1", "203.0.113.7", "::1"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, header: str | None, client: str
) -> None:
    assert forwarded_client(peer, header, NGINX) == client


def test_no_trusted_proxies_reads_no_header() -> None:
    assert forwarded_client("127.0.0.1", "203.0.113.7", []) == "127.0.0.1"


def test_the_setting_names_a_bad_entry() -> None:
    assert Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8").trusted_proxies == [
        "127.0.0.1",
        "10.0.0.0/8",
    ]
    assert Settings(trusted_proxies='["::1"]').trusted_proxies == ["::1"]
    with pytest.raises(ValidationError, match="'nginx' is not an IP address or network"):
        Settings(trusted_proxies="127.0.0.1,nginx")
