"""Who is asking: the client's address behind a trusted reverse proxy.

The console listens on 127.0.0.1 behind a TLS proxy, so the peer of every request is the proxy.
``X-Forwarded-For`` says who the proxy's client was, but anyone can send that header: it is
believed only when the peer is a configured trusted proxy (``console.trusted_proxies`` in
shop.yml, or ``KEFU_TRUSTED_PROXIES``), and then read from the right: each trusted proxy
appends the address it saw, so the right-most address that is not a trusted proxy is the
client; whatever stands left of it was written by the client and is ignored.

Limits count an IPv6 client by its /64 network (one subscriber's share), an IPv4 one by its
address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "unknown"
MAX_HOPS = 32  # X-Forwarded-For entries read, at most


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """IP addresses and CIDR networks ("10.0.0.5", "10.1.0.0/16", "::1"); ValueError naming a
    bad one."""
    networks = []
    for value in values:
        value = str(value).strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(networks)


def split_list(value: str | None) -> list[str]:
    """A comma or space separated setting as a list."""
    return (value or "").replace(",", " ").split()


def parse_address(value: str | None) -> Address | None:
    """An address as written by a proxy or the socket ("1.2.3.4", "1.2.3.4:5678",
    "[2001:db8::1]:443", "::ffff:1.2.3.4"); None if it is none."""
    text = (value or "").strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> Address | None:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the
    right-most address of ``X-Forwarded-For`` (all its headers, in order) that is not a trusted
    proxy.  None when nothing usable is known (a trusted proxy that forwarded garbage)."""
    address = parse_address(peer)
    if address is None or not proxies or not _trusted(address, proxies):
        return address
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops[-MAX_HOPS:]):
        hop_address = parse_address(hop)
        if hop_address is None:
            return None  # not an address a proxy writes: nothing left of it can be believed
        if not _trusted(hop_address, proxies):
            return hop_address
        address = hop_address
    return address  # every hop a trusted proxy: the left-most of them


def bucket(address: Address | None) -> str:
    """The key limits count ``address`` under: an IPv4 address, an IPv6 /64, or "unknown"."""
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def forwarded_https(
    peer: str | None, forwarded_proto: Sequence[str], proxies: Sequence[Network]
) -> bool:
    """Whether a trusted proxy says the client came over HTTPS (``X-Forwarded-Proto``)."""
    address = parse_address(peer)
    if address is None or not _trusted(address, proxies) or not forwarded_proto:
        return False
    return forwarded_proto[-1].split(",")[-1].strip().lower() == "https"
