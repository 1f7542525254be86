"""A real HTTPS server on 127.0.0.1 (ports 8400-8499) with a certificate from a CA made at test time."""

from __future__ import annotations

import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Without a length the body simply ends when the connection closes (HTTP/1.0).
    send_length: bool = True
    # Seconds between single bytes of the answer, headers included: a server that trickles.
    trickle: float = 0.0


@dataclass
class LocalHTTPS:
    port: int
    ca_file: Path
    routes: dict[str, Route]
    requests: list[str]

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def serve(self, path: str, body: bytes | str, status: int = 200, send_length: bool = True, **headers: str) -> None:
        self.routes[path] = Route(status, body.encode() if isinstance(body, str) else body, headers, send_length)

    def trickle(self, path: str, body: str, every: float) -> None:
        """Answer one byte every `every` seconds, from the status line on."""
        self.routes[path] = Route(200, body.encode(), {}, True, every)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up early (size limit, refused redirect) is what some tests are about.
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def local_https(directory: Path, names: tuple[str, ...] = ()) -> Iterator[LocalHTTPS]:
    """`names` are extra host names the certificate is valid for (tests resolve them to 127.0.0.1)."""
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost", *names).configure_cert(context)
    routes: dict[str, Route] = {}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            requests.append(self.path)
            route = routes.get(self.path, Route(404, b"not found"))
            if route.trickle:
                self._trickle(route)
                return
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name.replace("_", "-"), value)
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def _trickle(self, route: Route) -> None:
            head = f"HTTP/1.1 {route.status} OK\r\nContent-Length: {len(route.body)}\r\n\r\n".encode()
            for byte in head + route.body:
                time.sleep(route.trickle)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet test output
            pass

    server = None
    for port in range(8400, 8500):
        try:
            server = _Server(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    if server is None:
        raise RuntimeError("no free port between 8400 and 8499")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalHTTPS(server.server_address[1], ca_file, routes, requests)
    finally:
        server.shutdown()
        server.server_close()
