"""Where a webhook may point: never at the server's own network unless the operator allows it.

A URL's host is resolved and every address it resolves to must be global:
loopback, private, link-local (cloud metadata services live there), shared
(carrier-grade NAT), multicast, reserved and unspecified addresses are refused,
IPv4-mapped IPv6 addresses as the IPv4 address they carry. The check runs when
an endpoint is saved (a clear VALIDATION_ERROR) and again at every delivery,
inside the HTTP client's resolver, so the connection goes to an address that
was checked: a name that resolved to a public address when it was saved and to
a private one later (DNS rebinding) is refused then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from pm_core.errors import ValidationError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Metadata services at addresses the global check alone would let through.
_METADATA: Final = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)


class RefusedAddressError(OSError):
    """The host resolves to an address webhooks may not reach. An OSError, so that the
    HTTP client reports it as a connection failure carrying this exception."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} resolves to a private or reserved address")
        self.host = host


def refused(address: IpAddress) -> bool:
    """True for an address that is not a public unicast one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _METADATA
    )


def literal(host: str) -> IpAddress | None:
    """The address a host names directly (``10.0.0.1``, ``[::1]``), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_literal(host: str) -> None:
    """Refuse a host that is a refused address written out (the resolver never sees those)."""
    address = literal(host)
    if address is not None and refused(address):
        raise RefusedAddressError(host)


async def check_url(url: str) -> None:
    """VALIDATION_ERROR on ``url`` when its host is refused or does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if literal(host) is not None:
        try:
            check_literal(host)
        except RefusedAddressError:
            raise ValidationError("url", _PRIVATE) from None
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise ValidationError("url", f"url's host {host} does not resolve") from None
    if any(refused(ipaddress.ip_address(info[4][0])) for info in infos):
        raise ValidationError("url", _PRIVATE)


_PRIVATE: Final = (
    "url resolves to a loopback, private, link-local or reserved address "
    "(the operator may allow them with PM_WEBHOOK_ALLOW_PRIVATE)"
)


class GuardedResolver(AbstractResolver):
    """The HTTP client's resolver for deliveries: refuses a name with any refused address."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if any(refused(ipaddress.ip_address(r["host"])) for r in results):
            raise RefusedAddressError(host)
        return results

    async def close(self) -> None:
        await self._inner.close()
