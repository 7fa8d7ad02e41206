"""Where webhooks may be sent: the URL rules and the address check against SSRF.

Live mode (``settings.mode == "live"``): the URL must be ``https`` and its host must resolve only to
public unicast addresses — never loopback, private (RFC 1918, ULA), link-local, CGNAT
(100.64.0.0/10), multicast, reserved/unspecified, documentation or benchmarking ranges, nor the
cloud metadata endpoints (169.254.169.254, fd00:ec2::254). IPv4 addresses embedded in IPv6
(``::ffff:a.b.c.d``, 6to4, Teredo, NAT64) are checked as the IPv4 address they carry.

The check runs twice: when the partner configures the URL (:func:`check_url`, answering 422
``webhook_url_not_allowed``) and again at every delivery, right before connecting (the delivery
transport resolves the host with :func:`resolve_host`, checks *every* address with
:func:`refused_address`, then connects to the checked address itself, so a DNS answer that
changes between the check and the connection — DNS rebinding — cannot slip through).

Sandbox mode allows ``http`` and any host (``http://localhost:3000/hooks``) so partners can test
against a receiver on their own machine.

:func:`resolve_host` is looked up through this module at call time: tests monkeypatch it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from steller_server.domain.errors import DomainError

__all__ = [
    "BLOCKED_NETWORKS",
    "IPAddress",
    "UrlNotAllowed",
    "WebhookTarget",
    "check_url",
    "checked_addresses",
    "parse_url",
    "refused_address",
    "resolve_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Ranges refused in live mode on top of what ``ipaddress`` flags as non-global.
BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. 169.254.169.254 metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001:db8::/32",
        "fc00::/7",  # unique local, incl. fd00:ec2::254 (AWS metadata over IPv6)
        "fe80::/10",
        "ff00::/8",
    )
)


class UrlNotAllowed(DomainError):
    """The webhook URL is refused (scheme, host or the addresses it resolves to)."""

    code = "webhook_url_not_allowed"
    status = 422
    title = "Webhook URL not allowed"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A parsed webhook URL: scheme, host (no brackets) and the effective port."""

    url: str
    scheme: str
    host: str
    port: int


def parse_url(url: str, *, mode: str) -> WebhookTarget:
    """Syntax and scheme rules; :class:`UrlNotAllowed` with a reason the partner can act on."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UrlNotAllowed("the webhook URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlNotAllowed("the webhook URL must start with https:// (or http:// in sandbox)")
    if mode == "live" and scheme != "https":
        raise UrlNotAllowed("in live mode the webhook URL must use https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlNotAllowed("the webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowed(
            "the webhook URL must not contain credentials; verify signatures instead"
        )
    return WebhookTarget(
        url=url.strip(), scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80)
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96"):  # well-known NAT64 prefix
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if address in ipaddress.ip_network("::/96") and int(address) > 1:  # deprecated compatible
        return ipaddress.IPv4Address(int(address))
    return None


def refused_address(address: IPAddress | str) -> str | None:
    """Why ``address`` may not receive live webhooks, or None when it is a public unicast one."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return f"{ip} is a scoped (link-local) address"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = refused_address(embedded)
            return None if reason is None else f"{ip} embeds {reason}"
    for network in BLOCKED_NETWORKS:
        if ip.version == network.version and ip in network:
            return f"{ip} is a non-public address ({network})"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return f"{ip} is not a public address"
    return None


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself), de-duplicated."""
    literal = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


async def checked_addresses(host: str, port: int) -> list[str]:
    """Resolve ``host`` and refuse it unless EVERY address is public (live-mode rule)."""
    try:
        addresses = await resolve_host(host, port)
    except OSError as exc:
        raise UrlNotAllowed(f"the webhook host {host!r} does not resolve ({exc})") from None
    if not addresses:
        raise UrlNotAllowed(f"the webhook host {host!r} does not resolve")
    for address in addresses:
        reason = refused_address(address)
        if reason is not None:
            raise UrlNotAllowed(f"the webhook host {host!r} resolves to {reason}")
    return addresses


async def check_url(url: str, *, mode: str) -> WebhookTarget:
    """The configuration-time check. Live: https and only public addresses; sandbox: syntax."""
    target = parse_url(url, mode=mode)
    if mode == "live":
        await checked_addresses(target.host, target.port)
    return target
