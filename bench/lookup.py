"""Trust lookup benchmark: the registry against a bare Litestar endpoint, at several registry sizes.

    make bench                                   # 1,000, 100,000 and 1,000,000 providers
    .venv/bin/python bench/lookup.py --sizes 1000,100000 --duration 10
    .venv/bin/python bench/lookup.py --sizes 100000 --stacks granian,uvicorn   # the serving stacks compared

Registries are built once under bench/out/ and reused. Each server runs as `registry serve` does
(granian with uvloop, one worker; beside it the same registry with --workers, one per core by default)
on 127.0.0.1, on ports from --ports (by default the first block of 100 from 8100 up whose ports are all
free), and is loaded with wrk (32 connections), or with a small asyncio load generator when wrk is absent.
Lookups ask about random real identifiers (about 100,000 sampled from the registry) at random dates
between 2008 and 2026. The standard protocols are loaded beside them with identifiers whose verdict
today is trusted: OpenID Federation fetch (a signed subordinate statement with a signed trust mark
inside) and TRQP authorization.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from registry.serving import cpu_count

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
LUA_SCRIPT = BENCH_DIR / "lookup.lua"
HOST = "127.0.0.1"
JWT = "application/jwt"

# The bare endpoint answers one fixed document of a verdict's size and shape.
BARE_DOCUMENT: dict[str, Any] = {
    "identifier": "did:web:bare.example",
    "scheme": "did",
    "at": "2024-05-01T00:00:00Z",
    "evaluated_at": "2026-01-01T00:00:00Z",
    "policy": "esg-2015/v1",
    "trusted": True,
    "status": "trusted",
    "provider": {
        "id": 1,
        "name": "Bare Provider",
        "country": "NL",
        "type": "public HEI",
        "url": "https://bare.example",
    },
    "basis": [
        {
            "result_id": 1,
            "agency": {"id": 1, "acronym": "AGY", "name": "An Agency", "eqar_registered_at_decision": True},
            "activity_type": "institutional",
            "decision": "positive",
            "valid_from": "2020-01-01",
            "valid_to": "2026-01-01",
            "revoked_from": None,
            "conditions_due": None,
            "limits": {"eqf_levels": [], "fields": [], "jurisdictions": []},
            "programmes": [],
            "report_url": "https://agency.example/reports/1.pdf",
            "inherited_from": None,
        }
    ],
    "internal_qa": {"status": "none", "accepted_at": None, "next_due": None},
    "next_review_due": "2026-01-01",
    "reasons": ["Covered by institutional result 1 by AGY, valid 2020-01-01 to 2026-01-01."],
    "links": {"provider": "http://127.0.0.1/providers/1"},
}


def bare_app() -> Any:
    from litestar import Litestar, get

    @get("/api/v1/trust", sync_to_thread=False)
    def fixed() -> dict[str, Any]:
        return BARE_DOCUMENT

    return Litestar(route_handlers=[fixed])


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def parse_ports(value: str) -> range:
    """ "8100-8199" (inclusive), or one port."""
    first, _, last = value.partition("-")
    ports = range(int(first), int(last or first) + 1)
    if not ports or ports.start < 1024 or ports.stop > 65536:
        raise argparse.ArgumentTypeError(f"a range of unprivileged ports, e.g. 8100-8199: {value!r}")
    return ports


def free_range(size: int = 100) -> range:
    """The first block of `size` ports from 8100 up in which every port is free now."""
    for start in range(8100, 20000, size):
        block = range(start, start + size)
        if all(_port_free(port) for port in block):
            return block
    raise RuntimeError("no block of free ports between 8100 and 20000: pass --ports")


class Ports:
    """Hands out ports of one range that nobody listens on."""

    def __init__(self, ports: range) -> None:
        self.ports = ports
        self.taken: set[int] = set()

    def next(self) -> int:
        for port in self.ports:
            if port not in self.taken and _port_free(port):
                self.taken.add(port)
                return port
        raise RuntimeError(f"no free port in {self.ports.start}-{self.ports.stop - 1}")


class Server:
    """A server process (its workers are its children); its log goes to bench/out so the figures stay readable."""

    def __init__(self, name: str, command: list[str], port: int, env: dict[str, str]) -> None:
        self.name = name
        self.port = port
        self.log = (OUT_DIR / f"{name}.log").open("w")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/trust?identifier=x", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # answering, even if with an error
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not start on port {port}")

    def rss_mb(self) -> float:
        """The worker processes' resident memory (the supervisor's too, when it serves requests itself)."""
        children = _children(self.process.pid)
        total = 0
        for pid in children or [self.process.pid]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            total += int(match.group(1)) if match else 0
        return total / 1024 if total else float("nan")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# The serving stacks compared by --stacks: "granian" is what `registry serve` runs; "uvicorn" is uvicorn
# with httptools and uvloop (it picks both when installed; named here so that a missing one fails loudly).
STACKS = ("granian", "uvicorn")
DEFAULT_STACK = "granian"


def _uvicorn(target: str, port: int, workers: int, factory: bool = False) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", target, "--host", HOST, "--port", str(port)]
    command += ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    return command + (["--factory"] if factory else [])


def serve_registry(database: Path | str, port: int, workers: int = 1, stack: str = DEFAULT_STACK) -> Server:
    """Serve a SQLite file (a path) or any database URL (a string)."""
    env = dict(os.environ)
    env.update(
        REGISTRY_DATABASE_URL=database if isinstance(database, str) else f"sqlite:///{database}",
        REGISTRY_SECRET_KEY="bench-secret-key",
        REGISTRY_VAR_DIR=str(OUT_DIR / "var"),
        REGISTRY_BASE_URL=f"http://{HOST}:{port}",
        REGISTRY_HOST=HOST,
        REGISTRY_PORT=str(port),
        REGISTRY_WORKERS=str(workers),
        # The periodic jobs would sweep the synthetic registry while it is measured.
        REGISTRY_SCHEDULER_IN_PROCESS="false",
    )
    name = f"registry-{stack}-w{workers}"
    if stack == DEFAULT_STACK:
        return Server(name, [str(Path(sys.executable).parent / "registry"), "serve"], port, env)
    return Server(name, _uvicorn("registry.asgi:app", port, workers), port, env)


def serve_bare(port: int, stack: str = DEFAULT_STACK) -> Server:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))}
    if stack == DEFAULT_STACK:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port)]
    else:
        command = _uvicorn("lookup:bare_app", port, 1, factory=True)
    return Server(f"bare-{stack}", command, port, env)


def run_bare(port: int) -> None:
    from registry.serving import serve

    # The same stack and settings as `registry serve`, one worker.
    serve(HOST, port, 1, target="lookup:bare_app", factory=True)


@dataclass(frozen=True)
class Kind:
    """What a load asks: "lookup" (with accept), "fetch" or "trqp"."""

    name: str = "lookup"
    accept: str | None = None


LOOKUP, SIGNED, FETCH, TRQP = Kind(), Kind(accept=JWT), Kind("fetch"), Kind("trqp")
# Lookups repeated with the ETag of their last answer (If-None-Match): every answer a 304.
REVALIDATE = Kind("revalidate")


@functools.lru_cache
def revalidation_targets(port: int, identifiers: Path, count: int = 4000) -> Path:
    """Lookups (identifier, date, ETag; one a line, tab-separated) for REVALIDATE, asked of the server once."""
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(304)
    values = [line for line in identifiers.read_text().splitlines() if line]
    questions = [
        (rng.choice(values), f"{rng.randrange(2008, 2027)}-{rng.randrange(1, 13):02d}-01") for _ in range(count)
    ]

    def etag(question: tuple[str, str]) -> str:
        url = f"http://{HOST}:{port}/api/v1/trust?identifier={question[0]}&at={question[1]}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.headers["ETag"])

    with ThreadPoolExecutor(8) as pool:
        tags = list(pool.map(etag, questions))
    path = OUT_DIR / f"revalidate-{port}.targets"
    path.write_text(
        "".join(f"{identifier}\t{at}\t{tag}\n" for (identifier, at), tag in zip(questions, tags, strict=True))
    )
    return path


def wrk_load(port: int, identifiers: Path, duration: float, connections: int, kind: Kind) -> Load:
    # One wrk thread: the machine has two cores and the server needs one of them.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s"]
    command += ["-s", str(LUA_SCRIPT), f"http://{HOST}:{port}", "--", str(identifiers), kind.name]
    if kind.name == "trqp":
        command.append(f"http://{HOST}:{port}")
    elif kind.name == "revalidate":
        command[command.index(str(identifiers))] = str(revalidation_targets(port, identifiers))
    elif kind.accept:
        command.append(kind.accept)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (.*)", output)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    figures = {key: int(value) for key, value in (part.split("=") for part in match.group(1).split())}
    return Load(
        requests_per_second=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        requests=figures["requests"],
        failures=figures["non2xx"] + figures["socket_errors"],
    )


def _request(kind: Kind, identifier: str, port: int, rng: random.Random) -> bytes:
    """One HTTP/1.1 request of this kind; identifier is percent-encoded."""
    if kind.name == "fetch":
        return f"GET /federation/fetch?sub={identifier} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    if kind.name == "trqp":
        body = json.dumps(
            {"entity_id": unquote(identifier), "authority_id": f"http://{HOST}:{port}", "action": "issue"}
        ).encode()
        head = (
            f"POST /trqp/authorization HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body
    extra = f"Accept: {kind.accept}\r\n" if kind.accept else ""
    at = f"{rng.randrange(2008, 2027)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    target = f"/api/v1/trust?identifier={identifier}&at={at}"
    return f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode()


async def _python_load(port: int, identifiers: list[str], duration: float, connections: int, kind: Kind) -> Load:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + duration
    rng = random.Random()

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(HOST, port)
        while time.monotonic() < deadline:
            request = _request(kind, rng.choice(identifiers), port, rng)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies.append(time.perf_counter() - started)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 304")):
                failures += 1
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

    return Load(len(latencies) / elapsed, percentile(0.50), percentile(0.99), len(latencies), failures)


def python_load(port: int, identifiers: Path, duration: float, connections: int, kind: Kind) -> Load:
    values = [line for line in identifiers.read_text().splitlines() if line]
    return asyncio.run(_python_load(port, values, duration, connections, kind))


def load(port: int, identifiers: Path, duration: float, connections: int, kind: Kind = LOOKUP) -> Load:
    if shutil.which("wrk"):
        return wrk_load(port, identifiers, duration, connections, kind)
    return python_load(port, identifiers, duration, connections, kind)


def trusted_identifiers(path: Path) -> Path:
    """Resolving identifiers (percent-encoded, one a line) whose provider's verdict today is trusted."""
    from sqlalchemy import create_engine, text

    sample = path.with_suffix(".trusted")
    if sample.exists():
        return sample
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT i.value FROM provider_identifier i JOIN trust_timeline t ON t.provider_id = i.provider_id "
                "WHERE t.current_status IN ('trusted', 'trusted_with_conditions') "
                "AND i.origin IN ('agency', 'imported', 'proven') "
                "AND (i.valid_from IS NULL OR i.valid_from <= date('now')) "
                "AND (i.valid_to IS NULL OR i.valid_to >= date('now')) "
                "ORDER BY random() LIMIT :limit"
            ),
            {"limit": 100_000},
        )
        values = [quote(row[0], safe="") for row in rows]
    engine.dispose()
    sample.write_text("\n".join(values) + "\n")
    return sample


def combine(loads: list[Load]) -> Load:
    """Rounds of one kind together: total throughput, and the median round's percentiles."""
    seconds = sum(load.requests / load.requests_per_second for load in loads if load.requests)
    requests = sum(load.requests for load in loads)
    return Load(
        requests_per_second=requests / seconds if seconds else 0.0,
        p50_ms=statistics.median(load.p50_ms for load in loads),
        p99_ms=statistics.median(load.p99_ms for load in loads),
        requests=requests,
        failures=sum(load.failures for load in loads),
    )


def prepare(size: int) -> tuple[Path, Path]:
    """The registry of this size (built once, then reused) and its lookup identifiers."""
    from synthetic import build_registry, lookup_identifiers, status_counts

    database = OUT_DIR / f"registry-{size}.db"
    print(f"\n== {size:,} providers ({database.relative_to(BENCH_DIR.parent)})", flush=True)
    seconds = build_registry(database, size)
    print(f"   built in {seconds:.0f} s" if seconds else "   reused the cached build", flush=True)
    print(f"   today's statuses: {status_counts(database)}", flush=True)
    return database, lookup_identifiers(database)


def measure_size(
    size: int,
    duration: float,
    connections: int,
    rounds: int,
    ports: Ports,
    workers: int,
    cold: bool = False,
    postgres: str | None = None,
) -> dict[str, Any]:
    from synthetic import build_postgres_registry, evict_from_page_cache

    database, identifiers = prepare(size)
    trusted = trusted_identifiers(database)
    served: Path | str = database
    if postgres:
        # The same seed gives the same registry: the SQLite file's identifiers sample PostgreSQL's too.
        served, seconds = build_postgres_registry(postgres, size)
        print(f"   PostgreSQL {served}: " + (f"built in {seconds:.0f} s" if seconds else "reused"), flush=True)
    registry = serve_registry(served, ports.next())
    bare = serve_bare(ports.next())
    # The same registry with one worker per core (or --workers), to show what more workers give.
    several = serve_registry(served, ports.next(), workers) if workers > 1 else None
    scaled = f"lookup w{workers}"
    try:
        warm = min(2.0, duration)
        # Warm both servers (imports, caches, the file's pages) before measuring.
        load(bare.port, identifiers, warm, connections)
        load(registry.port, identifiers, warm, connections)
        load(registry.port, identifiers, warm, connections, SIGNED)
        load(registry.port, trusted, warm, connections, FETCH)
        load(registry.port, trusted, warm, connections, TRQP)
        if several is not None:
            load(several.port, identifiers, warm, connections)
        runs: dict[str, list[Load]] = {
            "bare": [],
            "lookup": [],
            **({scaled: []} if several is not None else {}),
            "signed": [],
            "304": [],
            "lookup@1": [],
            "fetch": [],
            "trqp": [],
        }
        # Interleaved rounds: on a shared machine a burst of other work then hits every kind alike.
        share = max(1.0, duration / rounds)
        for _ in range(rounds):
            runs["bare"].append(load(bare.port, identifiers, share, connections))
            if cold:
                # The lookups of this round start with none of the file in the kernel's page cache.
                evict_from_page_cache(database)
            runs["lookup"].append(load(registry.port, identifiers, share, connections))
            if several is not None:
                runs[scaled].append(load(several.port, identifiers, share, connections))
            runs["signed"].append(load(registry.port, identifiers, share, connections, SIGNED))
            runs["304"].append(load(registry.port, identifiers, share, connections, REVALIDATE))
            # One connection: the lookup's own service time, without 31 requests queued ahead of it.
            runs["lookup@1"].append(load(registry.port, identifiers, max(1.0, share / 2), 1))
            # The standard protocols, on identifiers trusted today (every answer a 200).
            runs["fetch"].append(load(registry.port, trusted, share, connections, FETCH))
            runs["trqp"].append(load(registry.port, trusted, share, connections, TRQP))
        figures = {name: combine(loads) for name, loads in runs.items()}
        rss = registry.rss_mb()
        bare_rss = bare.rss_mb()
    finally:
        registry.stop()
        bare.stop()
        if several is not None:
            several.stop()
    print(f"   {'':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} {'vs signed':>9} {'failed':>7}")
    for name, figure in figures.items():
        ratio = figure.requests_per_second / figures["bare"].requests_per_second
        signed = figure.requests_per_second / figures["signed"].requests_per_second
        print(
            f"   {name:8} {figure.requests_per_second:9.0f} {figure.p50_ms:8.2f} {figure.p99_ms:8.2f} "
            f"{ratio:8.2f} {signed:9.2f} {figure.failures:7d}"
        )
    # On a shared machine the spread of paired rounds shows how far one figure can be trusted.
    for name in ("lookup", "signed"):
        paired = [
            kind.requests_per_second / bare.requests_per_second
            for kind, bare in zip(runs[name], runs["bare"], strict=True)
            if bare.requests_per_second
        ]
        print(f"   {name} vs bare, round by round: {' '.join(f'{ratio:.2f}' for ratio in paired)}")
    if several is not None:
        paired = [
            more.requests_per_second / one.requests_per_second
            for more, one in zip(runs[scaled], runs["lookup"], strict=True)
            if one.requests_per_second
        ]
        print(
            f"   lookups with {workers} workers vs one, round by round: {' '.join(f'{ratio:.2f}' for ratio in paired)}"
            " (wrk shares the cores with the server)"
        )
    print(f"   server RSS after the runs: registry {rss:.0f} MB, bare {bare_rss:.0f} MB", flush=True)
    return {"size": size, "rss": rss, "workers": workers, **figures}


def compare_stacks(size: int, duration: float, connections: int, rounds: int, ports: Ports, stacks: list[str]) -> None:
    """Each stack serving the registry and the bare endpoint (one worker each), in interleaved rounds."""
    database, identifiers = prepare(size)
    servers: dict[tuple[str, str], Server] = {}
    try:
        for stack in stacks:
            servers[(stack, "bare")] = serve_bare(ports.next(), stack)
            servers[(stack, "lookup")] = serve_registry(database, ports.next(), 1, stack)
        for server in servers.values():
            load(server.port, identifiers, min(2.0, duration), connections)
        runs: dict[tuple[str, str], list[Load]] = {key: [] for key in servers}
        share = max(1.0, duration / rounds)
        for _ in range(rounds):
            for key, server in servers.items():
                runs[key].append(load(server.port, identifiers, share, connections))
    finally:
        for server in servers.values():
            server.stop()
    print(f"   {'stack':8} {'bare req/s':>10} {'lookup req/s':>12} {'lookup/bare':>11} {'p50 ms':>7} {'p99 ms':>7}")
    for stack in stacks:
        bare, lookup = combine(runs[(stack, "bare")]), combine(runs[(stack, "lookup")])
        print(
            f"   {stack:8} {bare.requests_per_second:10.0f} {lookup.requests_per_second:12.0f} "
            f"{lookup.requests_per_second / bare.requests_per_second:11.2f} {lookup.p50_ms:7.2f} {lookup.p99_ms:7.2f}"
        )
    first = stacks[0]
    for other in stacks[1:]:
        paired = [
            a.requests_per_second / b.requests_per_second
            for a, b in zip(runs[(first, "lookup")], runs[(other, "lookup")], strict=True)
            if b.requests_per_second
        ]
        print(f"   lookups {first} vs {other}, round by round: {' '.join(f'{ratio:.2f}' for ratio in paired)}")


def report_targets(results: dict[int, dict[str, Any]], connections: int, database: str = "SQLite") -> None:
    print(f"\n== targets (one worker, {database})")

    def line(ok: bool | None, text: str) -> None:
        print(f"   {'n/a ' if ok is None else 'PASS' if ok else 'MISS'}  {text}")

    at = results.get(100_000)
    if at is None:
        line(None, "the throughput and p99 targets are set at 100,000 providers: add 100000 to --sizes")
    else:
        ratio = at["lookup"].requests_per_second / at["bare"].requests_per_second
        line(ratio >= 0.5, f"lookups at 100,000 reach >= 1/2 of the bare endpoint's req/s: {ratio:.2f}")
        signed = at["signed"].requests_per_second / at["bare"].requests_per_second
        line(signed >= 0.35, f"signed lookups at 100,000 reach >= 0.35 of the bare endpoint's req/s: {signed:.2f}")
        revalidated = at["304"].requests_per_second / at["bare"].requests_per_second
        line(revalidated >= 0.6, f"304 answers at 100,000 reach >= 0.6 of the bare endpoint's req/s: {revalidated:.2f}")
        for name in ("bare", "lookup", "signed", "304"):
            spread = at[name].p99_ms / at[name].p50_ms
            line(spread <= 3, f"{name} p99 at 100,000 <= 3x its p50 ({connections} connections): {spread:.1f}x")
        for name, what in (("fetch", "OpenID Federation fetch"), ("trqp", "TRQP authorization")):
            share = at[name].requests_per_second / at["signed"].requests_per_second
            line(share >= 0.8, f"{what} at 100,000 reaches >= 0.8 of the signed lookup's req/s: {share:.2f}")
        scaled = at.get(f"lookup w{at['workers']}")
        if scaled is None:
            line(None, "workers = cores: lookup throughput >= 1.7x one worker: needs --workers above 1")
        else:
            gain = scaled.requests_per_second / at["lookup"].requests_per_second
            line(
                gain >= 1.7,
                f"lookups with {at['workers']} workers (cores: {cpu_count()}) reach >= 1.7x one worker: {gain:.2f}x",
            )
    small, large = results.get(1_000), results.get(1_000_000)
    if small is None or large is None:
        line(None, "p50 at 1,000,000 within 1.3x of p50 at 1,000: needs both sizes in --sizes")
    else:
        growth = large["lookup"].p50_ms / small["lookup"].p50_ms
        # At 32 connections p50 is mostly queueing (about connections / throughput); one connection
        # shows the lookup's own time.
        alone = large["lookup@1"].p50_ms / small["lookup@1"].p50_ms
        line(
            growth <= 1.3,
            f"lookup p50 at 1,000,000 within 1.3x of p50 at 1,000: {growth:.2f}x (one connection: {alone:.2f}x)",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="registry sizes, comma-separated")
    parser.add_argument("--duration", type=float, default=9.0, help="seconds of load per kind and size")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds the duration is split into")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--ports",
        type=parse_ports,
        default=None,
        help="ports the servers may listen on, e.g. 8100-8199 (default: the first wholly free block of 100 from 8100)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the second registry server (default: one per core; 1 skips it)",
    )
    parser.add_argument(
        "--stacks",
        default=None,
        help=f"compare serving stacks on the lookup instead, e.g. granian,uvicorn (known: {', '.join(STACKS)})",
    )
    parser.add_argument(
        "--cold", action="store_true", help="drop the database file from the page cache before each round's lookups"
    )
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql"), default="sqlite", help="the database the registry serves from"
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the databases bench_<size> on (with --database postgresql)",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        run_bare(args.serve_bare)
        return
    sys.path.insert(0, str(BENCH_DIR))
    OUT_DIR.mkdir(exist_ok=True)
    ports = Ports(args.ports or free_range())
    workers = args.workers or cpu_count()
    generator = "wrk" if shutil.which("wrk") else "a Python asyncio load generator (wrk not found)"
    print(
        f"load: {generator}, {args.connections} connections, {args.duration:g} s per kind in {args.rounds} "
        f"interleaved rounds; cores: {cpu_count()}, load average {os.getloadavg()[0]:.1f}; "
        f"ports {ports.ports.start}-{ports.ports.stop - 1}; database: {args.database}"
    )
    sizes = [int(value.replace("_", "")) for value in args.sizes.split(",")]
    if args.stacks:
        stacks = [stack.strip() for stack in args.stacks.split(",") if stack.strip()]
        unknown = set(stacks) - set(STACKS)
        if unknown:
            parser.error(f"unknown stacks: {', '.join(sorted(unknown))}")
        for size in sizes:
            compare_stacks(size, args.duration, args.connections, args.rounds, ports, stacks)
        print(f"   load average after the runs: {os.getloadavg()[0]:.1f}")
        return
    results = {}
    postgres = args.postgres_url if args.database == "postgresql" else None
    for size in sizes:
        results[size] = measure_size(
            size, args.duration, args.connections, args.rounds, ports, workers, args.cold, postgres
        )
    report_targets(results, args.connections, "PostgreSQL" if postgres else "SQLite")
    print(f"   load average after the runs: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
