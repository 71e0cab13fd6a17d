"""The outgoing-request policy: where a channel may connect, for every adapter.

A channel's URL (webhook `url`, Mastodon `base_url`, Bluesky `pds_url`, Telegram and X
`api_url`, Graph `graph_url`) or SMTP `host` is typed by an administrator; without a
policy it can make Tandem probe internal ports, reach the cloud metadata service or read
internal error pages. The rules:

- `https` only, unless TANDEM_CHANNEL_HTTP_ALLOWED (on in debug; off by default otherwise);
- every address the host resolves to must be public: loopback, private (RFC 1918, ULA),
  link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10), multicast,
  unspecified and reserved addresses are refused, also when embedded in an IPv6 address
  (::ffff:a.b.c.d, 6to4, Teredo, NAT64), unless TANDEM_CHANNEL_ALLOWED_NETWORKS lists them;
- the check runs on the address actually connected to: the host is resolved once, the
  answers are checked, and the socket connects to a checked address (never a second
  resolution a rebinding DNS server could answer differently). TLS still verifies the
  certificate for the host name (SNI), and the Host header is the URL's.

Channel saves check the URL's syntax, scheme and current resolution (catalogue services);
every connection checks again, and a refusal is a `RefusedDestination` (permanent).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from publisher.channels.base import PermanentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

_KINDS = {
    "unspecified": gettext_lazy("unspecified"),
    "loopback": gettext_lazy("loopback"),
    "link-local": gettext_lazy("link-local"),
    "multicast": gettext_lazy("multicast"),
    "private": gettext_lazy("private"),
    "reserved": gettext_lazy("reserved"),
}


class RefusedDestination(PermanentError):
    """The channel points where the outgoing-request policy forbids: fix its configuration."""


@functools.cache
def _parse_networks(value: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in value if item.strip())


def allowed_networks() -> tuple[IPNetwork, ...]:
    """TANDEM_CHANNEL_ALLOWED_NETWORKS: a list of CIDRs, or one comma-separated string."""
    value = getattr(settings, "TANDEM_CHANNEL_ALLOWED_NETWORKS", ())
    items = value.split(",") if isinstance(value, str) else list(value)
    return _parse_networks(tuple(str(item) for item in items))


def _destinations(ip: IPAddress) -> list[IPAddress]:
    """The addresses packets to `ip` end up at: an IPv4-mapped or NAT64 address is its IPv4
    address; 6to4 and Teredo carry one as well as being IPv6 themselves."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return [ip.ipv4_mapped]
        if ip in _NAT64:
            return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
        if ip.sixtofour is not None:
            return [ip.sixtofour, ip]
        if ip.teredo is not None:
            return [*ip.teredo, ip]
    return [ip]


def _kind(ip: IPAddress) -> str | None:
    """Why `ip` is not public (a key of _KINDS), or None if it is."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


def _listed(ip: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def address_problem(ip: IPAddress, *, host: str = "") -> str | None:
    """Why the policy refuses to connect to `ip` (translated), or None if it may; `host` is
    the name that resolved to it, if any."""
    allowed = allowed_networks()
    if _listed(ip, allowed):
        return None
    for destination in _destinations(ip):
        kind = None if _listed(destination, allowed) else _kind(destination)
        if kind is None:
            continue
        values = {"host": host, "address": ip, "kind": _KINDS[kind]}
        if host and _literal(host) != ip:
            return (
                _(
                    "%(host)s resolves to %(address)s, which is not a public address (%(kind)s): channels may only "
                    "connect to it if TANDEM_CHANNEL_ALLOWED_NETWORKS lists its network."
                )
                % values
            )
        return (
            _(
                "%(address)s is not a public address (%(kind)s): channels may only connect to it if "
                "TANDEM_CHANNEL_ALLOWED_NETWORKS lists its network."
            )
            % values
        )
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """The resolver's answers for a TCP connection to `host`."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def checked_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """Resolve `host` once and return its answers, all of them allowed by the policy.

    Raises RefusedDestination if any answer is refused (a name that mixes public and
    internal answers is refused as a whole), socket.gaierror if it does not resolve."""
    infos = resolve(host.strip("[]"), port)
    for info in infos:
        ip = _literal(str(info[4][0]))
        if ip is None:
            raise RefusedDestination(_("%(host)s resolves to an address that cannot be read.") % {"host": host})
        problem = address_problem(ip, host=host)
        if problem:
            raise RefusedDestination(problem)
    return infos


def host_problem(host: str, port: int) -> str | None:
    """At save: why the policy refuses `host` as it resolves now (translated), or None.

    A name that does not resolve at the moment is accepted here: it is checked again at
    every connection."""
    if not host or not isinstance(host, str):
        return _("Give a host name.")
    ip = _literal(host)
    if ip is not None:
        return address_problem(ip)
    try:
        checked_addresses(host, port)
    except RefusedDestination as exc:
        return exc.message
    except (OSError, UnicodeError):
        return None
    return None


def scheme_problem(scheme: str) -> str | None:
    allowed = ("http", "https") if getattr(settings, "TANDEM_CHANNEL_HTTP_ALLOWED", False) else ("https",)
    if scheme.lower() not in allowed:
        return _("Use an https:// URL.")
    return None


def url_problem(url: object) -> str | None:
    """At save: why the policy refuses `url` (syntax, scheme, address), or None."""
    if not isinstance(url, str):
        return _("Give the URL as text, e.g. https://example.org.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or not parts.scheme or not parts.hostname:
        return _("Give a complete URL with its host, e.g. https://example.org.")
    problem = scheme_problem(parts.scheme)
    if problem:
        return problem
    return host_problem(parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80))


def connect(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP socket to `host`, connected to an address the policy allows (SMTP uses it)."""
    infos = checked_addresses(host, port)
    error: OSError | None = None
    for family, kind, proto, _canon, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"{host} has no address")


class PolicyBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = checked_addresses(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        error: Exception | None = None
        for info in infos:
            # The checked address itself: no second resolution between the check and the connect.
            try:
                return super().connect_tcp(
                    str(info[4][0]), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} has no address")


class PolicyTransport(httpx.HTTPTransport):
    """httpx's transport, with the scheme rule and the policy's socket backend."""

    def __init__(self, *, verify: ssl.SSLContext) -> None:
        super().__init__(verify=verify)
        # HTTPTransport takes no network backend: rebuild its pool as it does (httpx's default
        # limits), with ours.
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=PolicyBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        problem = scheme_problem(request.url.scheme)
        if problem:
            raise RefusedDestination(f"{request.url.host}: {problem}")
        return super().handle_request(request)
