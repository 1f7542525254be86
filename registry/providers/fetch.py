"""Fetching a small document from a host a provider names, without letting it steer us elsewhere.

The host is chosen by whoever claims an identifier, so every fetch is HTTPS only, small, never
redirected to another host, and refused for loopback and private addresses (unless the deployment
allows them, as the tests do for their local server). The name is resolved once, every address it
resolves to is checked, and the connection goes to a checked address (the certificate is still
checked against the name), so a DNS answer that changes in between cannot reach an internal host.
One deadline covers everything: resolving, connecting, the TLS handshake, the headers and the body.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

from registry.settings import Settings

MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3

# getaddrinfo cannot be interrupted; it runs here so that the deadline still holds while it waits.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="proof-dns")

# IPv6 forms that carry an IPv4 address (RFC 4291, 6052, 8215, 3056, 4380).
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class FetchFailed(Exception):
    """The document could not be fetched; the message says why in words a provider can act on."""


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def left(self, timeout: float | None = None) -> float:
        """The time an operation may still take: never past the deadline."""
        remaining = self.ends - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("the fetch's deadline has passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline, however slowly bytes arrive."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        secured = self._stream.start_tls(ssl_context, server_hostname, self._deadline.left(timeout))
        return _DeadlineStream(secured, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CheckedAddresses(httpcore.NetworkBackend):
    """Connects to the addresses resolved and checked for the one host a fetch may reach, never elsewhere."""

    def __init__(self, host: str, port: int, addresses: list[str], deadline: _Deadline) -> None:
        self._target = (host, port)
        self._addresses = addresses
        self._deadline = deadline
        self._system = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if (host, port) != self._target:
            raise httpcore.ConnectError(f"{host}:{port} was not resolved and checked")
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in self._addresses:
            try:
                stream = self._system.connect_tcp(address, port, self._deadline.left(timeout), local_address)
            except httpcore.ConnectError as error:
                failure = error
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("no local sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _Moved(Exception):
    """A redirect to another host, which only a fetch that allows other hosts follows (resolved and checked anew)."""

    def __init__(self, target: str, redirects: int) -> None:
        self.target = target
        self.redirects = redirects


def fetch(
    url: str,
    settings: Settings,
    *,
    max_bytes: int = MAX_BYTES,
    other_hosts: bool = False,
    seconds: float | None = None,
    max_redirects: int = MAX_REDIRECTS,
    user_agent: str = "qa-registry-proof-check",
) -> bytes:
    """The body of an https:// URL, or FetchFailed saying why not.

    `other_hosts` follows redirects to other hosts too: each is resolved and checked like the first, and
    all of them share the one deadline (`seconds`, else the settings' fetch timeout) and redirect limit.
    """
    deadline = _Deadline(seconds if seconds is not None else settings.fetch_timeout_seconds)
    redirects = 0
    while True:
        parts = urlsplit(url)
        try:
            port = parts.port or 443
        except ValueError:
            raise FetchFailed(f"{url!r} has no valid port") from None
        if parts.scheme != "https" or not parts.hostname:
            raise FetchFailed(f"only https:// addresses are fetched, not {url!r}")
        host = parts.hostname
        addresses = resolve(host, port, settings, deadline)
        pool = httpcore.ConnectionPool(
            ssl_context=_tls_context(settings),
            network_backend=_CheckedAddresses(host, port, addresses, deadline),
            max_connections=1,
            retries=0,
        )
        try:
            with pool:
                return _follow(
                    pool, url, host, port, max_bytes,
                    redirects=redirects, max_redirects=max_redirects, other_hosts=other_hosts, user_agent=user_agent,
                )  # fmt: skip
        except _Moved as moved:
            url, redirects = moved.target, moved.redirects
        except httpcore.TimeoutException:
            raise FetchFailed(
                f"{host} did not send the document within {deadline.seconds:g} seconds; it must answer promptly"
            ) from None
        except httpcore.ConnectError as error:
            raise FetchFailed(_connect_failure(error, host, port)) from None
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as error:
            raise FetchFailed(f"{host} broke off the connection or did not answer in HTTP ({error})") from None


def _follow(
    pool: httpcore.ConnectionPool,
    url: str,
    host: str,
    port: int,
    max_bytes: int,
    *,
    redirects: int = 0,
    max_redirects: int = MAX_REDIRECTS,
    other_hosts: bool = False,
    user_agent: str = "qa-registry-proof-check",
) -> bytes:
    headers: list[tuple[bytes | str, bytes | str]] = [
        ("User-Agent", user_agent),
        ("Accept-Encoding", "identity"),
    ]
    # Uncompressed only: the size limit then counts what the server actually sends.
    while redirects <= max_redirects:
        with pool.stream("GET", url, headers=headers) as response:
            if 300 <= response.status < 400 and response.status != 304:
                target = urljoin(url, _header(response, b"location"))
                moved = urlsplit(target)
                redirects += 1
                try:
                    same_host = moved.scheme == "https" and moved.hostname == host and (moved.port or 443) == port
                except ValueError:
                    same_host = False
                if not same_host:
                    if not other_hosts:
                        raise FetchFailed(f"{url} redirects to another host ({target}); redirects must stay on {host}")
                    if redirects > max_redirects:
                        break
                    raise _Moved(target, redirects)
                url = target
                continue
            if response.status != 200:
                raise FetchFailed(f"{url} answered HTTP {response.status}")
            declared = _header(response, b"content-length")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed(f"{url} is larger than {max_bytes} bytes")
            body = bytearray()
            for chunk in response.iter_stream():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchFailed(f"{url} is larger than {max_bytes} bytes")
            return bytes(body)
    raise FetchFailed(f"{url} redirects more than {max_redirects} times")


def _header(response: httpcore.Response, name: bytes) -> str:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""


def _connect_failure(error: Exception, host: str, port: int) -> str:
    causes: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"the TLS certificate of {host} is not trusted ({cause.verify_message}): it must be valid for "
                f"{host} and issued by a recognised certificate authority"
            )
        if isinstance(cause, ssl.SSLError):
            return f"the TLS handshake with {host} failed ({cause.reason or cause}): is it an HTTPS server?"
        if isinstance(cause, ConnectionRefusedError):
            return f"{host} refused the connection on port {port}: no HTTPS server is listening there"
    return f"could not connect to {host} on port {port} ({error})"


def _tls_context(settings: Settings) -> ssl.SSLContext:
    if settings.fetch_ca_bundle:
        return ssl.create_default_context(cafile=settings.fetch_ca_bundle)
    return ssl.create_default_context()


def resolve(host: str, port: int, settings: Settings, deadline: _Deadline | None = None) -> list[str]:
    """The addresses the host resolves to, once, each checked (unless private addresses are allowed)."""
    deadline = deadline or _Deadline(settings.fetch_timeout_seconds)
    lookup = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=deadline.left())
    except (FutureTimeout, httpcore.TimeoutException):
        raise FetchFailed(f"{host} could not be resolved within {deadline.seconds:g} seconds") from None
    except socket.gaierror as error:
        raise FetchFailed(f"{host} does not resolve to an address ({error.strerror})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchFailed(f"{host} does not resolve to an address")
    if not settings.allow_private_fetch:
        for address in addresses:
            problem = refusal(address)
            if problem:
                raise FetchFailed(f"{host} resolves to {address}, which {problem}")
    return addresses


def refusal(text: str) -> str | None:
    """Why this address may not be fetched from, or None for a public address."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if not address.is_global:
        return "is not a public address"
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return "is in a local-use NAT64 range, not a public address"
        for embedded in _embedded_ipv4(address):
            if not embedded.is_global:
                return f"carries {embedded}, which is not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _IPV4_COMPATIBLE or address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found += list(address.teredo)
    return found
