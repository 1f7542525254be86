"""Fetching a small document from a host a provider names, without letting it steer us elsewhere.

The host is chosen by whoever claims an identifier, so every fetch is HTTPS only, short, small,
never redirected to another host, and refused for loopback and private addresses (unless the
deployment allows them, as the tests do for their local server).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

import httpx

from registry.settings import Settings

TIMEOUT_SECONDS = 5.0
# A slow server may send a byte now and then to dodge the read timeout; the whole fetch has this long.
DEADLINE_SECONDS = 10.0
MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3


class FetchFailed(Exception):
    """The document could not be fetched; the message says why in words a provider can act on."""


def fetch(url: str, settings: Settings, *, max_bytes: int = MAX_BYTES) -> bytes:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise FetchFailed(f"only https:// addresses are fetched, not {url!r}")
    host, port = parts.hostname, parts.port or 443
    deadline = time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(
        verify=_tls_context(settings),
        timeout=httpx.Timeout(TIMEOUT_SECONDS),
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: the address check must see the real peer
        # Uncompressed only: the size limit then counts what the server actually sends.
        headers={"User-Agent": "qa-registry-proof-check", "Accept-Encoding": "identity"},
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_address(host, port, settings)
            with client.stream("GET", url) as response:
                _check_peer(response, settings)
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("location", ""))
                    moved = urlsplit(target)
                    if moved.scheme != "https" or moved.hostname != host or (moved.port or 443) != port:
                        raise FetchFailed(f"{url} redirects to another host ({target}); redirects must stay on {host}")
                    url = target
                    continue
                if response.status_code != 200:
                    raise FetchFailed(f"{url} answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchFailed(f"{url} is larger than {max_bytes} bytes")
                body = bytearray()
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchFailed(f"{url} is larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FetchFailed(f"{url} took longer than {DEADLINE_SECONDS:.0f} seconds")
                return bytes(body)
    raise FetchFailed(f"{url} redirects more than {MAX_REDIRECTS} times")


def _tls_context(settings: Settings) -> ssl.SSLContext:
    if settings.fetch_ca_bundle:
        return ssl.create_default_context(cafile=settings.fetch_ca_bundle)
    return ssl.create_default_context()


def check_address(host: str, port: int, settings: Settings) -> None:
    """Refuse hosts that resolve to loopback, private, link-local or otherwise non-public addresses."""
    if settings.allow_private_fetch:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchFailed(f"{host} does not resolve: {error.strerror}") from None
    for info in infos:
        _require_public(host, str(info[4][0]))


def _check_peer(response: httpx.Response, settings: Settings) -> None:
    # The name may resolve differently a moment later (DNS rebinding): check whom we actually reached.
    if settings.allow_private_fetch:
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        raise FetchFailed("could not tell which address was reached")
    _require_public(response.url.host, str(peer[0]))


def _require_public(host: str, text: str) -> None:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global:
        raise FetchFailed(f"{host} resolves to {address}, which is not a public address")
