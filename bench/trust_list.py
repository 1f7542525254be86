"""Trust list, mirror and change feed benchmark.

    .venv/bin/python bench/trust_list.py --size 10000

Builds a synthetic registry (bench/synthetic.py, which fills its trust list entries) under bench/out/,
serves it as `registry serve` does (one worker, on ports from --ports: by default the first wholly
free block of 100 from 8100) and prints: the trust list's time to first byte, total time and size
(plain and gzip), the server's RSS idle and at its peak while
streaming the list (target: at most 1.5 times idle), a mirror sync from an empty copy (`registry
mirror sync` in a process of its own: time and peak RSS), the feed latency from a commit to a
long-polling mirror (p50, p99), and lookups per second from the mirror and from the registry: in
process, and over HTTP (`registry mirror serve` against `registry serve`, one worker each, wrk,
interleaved rounds; target: the mirror at least as fast).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from lookup import HOST, OUT_DIR, Ports, Server, free_range, load, parse_ports, serve_registry  # noqa: E402
from synthetic import build_registry, lookup_identifiers  # noqa: E402

from registry.db import create_db_engine, session_scope  # noqa: E402
from registry.mirror import store  # noqa: E402
from registry.providers.models import Provider, ProviderIdentifier, ProviderSuspension  # noqa: E402
from registry.settings import Settings  # noqa: E402
from registry.trust import feed, services  # noqa: E402
from registry.trust.sqlite_reader import SqliteLookupReader  # noqa: E402
from registry.trust.verdict import Policy  # noqa: E402


def derive_entries(path: Path) -> float:
    """Fill the trust list entries of a registry built without them (bench/synthetic.py now fills them itself)."""
    engine = create_db_engine(f"sqlite:///{path}")
    started = time.perf_counter()
    with Session(engine) as session:
        if feed.current_position(session) > 0:
            return 0.0
        ids = [i for i in session.scalars(select(Provider.id)) if i is not None]  # type: ignore[call-overload]
    for start in range(0, len(ids), 5000):
        with session_scope(engine) as session:
            feed.record(session, ids[start : start + 5000], Policy())
    engine.dispose()
    return time.perf_counter() - started


def fetch_list(url: str, gzip: bool, sample_rss: callable) -> tuple[float, float, int, float]:  # type: ignore[valid-type]
    """Time to first byte, total seconds, bytes on the wire, peak server RSS (MB) while streaming."""
    peak = 0.0
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    size = 0
    first = None
    started = time.perf_counter()
    with httpx.stream("GET", f"{url}/api/v1/trust-list", headers=headers, timeout=600) as response:
        for chunk in response.iter_raw():
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            peak = max(peak, sample_rss())
    return first or 0.0, time.perf_counter() - started, size, peak


def feed_latency(url: str, path: Path, writes: int) -> list[float]:
    """Seconds from each commit to a long-polling follower receiving it."""
    engine = create_db_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        cursor = feed.current_position(connection)
    committed: dict[int, float] = {}
    heard: dict[int, float] = {}
    stop = threading.Event()

    def follow() -> None:
        nonlocal cursor
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                page = client.get(f"{url}/api/v1/changes", params={"after": cursor, "wait": 5}).json()
                now = time.perf_counter()
                for change in page["changes"]:
                    heard.setdefault(change["provider_id"], now)
                cursor = int(page["next"])

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    time.sleep(0.5)
    rng = random.Random(3)
    with Session(engine) as session:
        ids = [i for i in session.scalars(select(Provider.id)) if i is not None]  # type: ignore[call-overload]
    for _ in range(writes):
        provider_id = rng.choice(ids)
        with session_scope(engine) as session:
            session.add(
                ProviderSuspension(
                    provider_id=provider_id,
                    suspended_from=dt.date(2030, 1, 1) + dt.timedelta(days=rng.randrange(3000)),
                    reason="benchmark",
                )
            )
        committed[provider_id] = time.perf_counter()
        time.sleep(rng.uniform(0.05, 0.3))
    deadline = time.monotonic() + 10
    while len(heard) < len(committed) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    engine.dispose()
    return [heard[pid] - at for pid, at in committed.items() if pid in heard]


def lookups_per_second(reader: SqliteLookupReader, settings: Settings, identifiers: list[str], count: int) -> float:
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(5)
    started = time.perf_counter()
    for _ in range(count):
        day = dt.date(2008, 1, 1) + dt.timedelta(days=rng.randrange(6500))
        query = services.parse_query({"identifier": rng.choice(identifiers), "at": day.isoformat()}, now)
        services.verdict(reader, query, settings, now)
    return count / (time.perf_counter() - started)


SYNC_CHILD = """
import resource, sys, time
from registry.mirror.store import open_store
from registry.mirror.sync import sync
started = time.perf_counter()
report = sync(open_store(sys.argv[1]), sys.argv[2])
print(report.listed, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def sync_in_child(mirror: Path, url: str) -> tuple[int, float, float]:
    """A mirror sync from an empty copy in a process of its own: providers, seconds, peak RSS (MB)."""
    for leftover in (mirror, mirror.with_name(mirror.name + "-wal"), mirror.with_name(mirror.name + "-shm")):
        leftover.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", SYNC_CHILD, str(mirror), url], capture_output=True, text=True, check=True
    )
    listed, seconds, peak = done.stdout.split()
    return int(listed), float(seconds), float(peak)


def serve_mirror(mirror: Path, port: int) -> Server:
    command = [str(Path(sys.executable).parent / "registry"), "mirror", "serve", "--db", str(mirror)]
    return Server("mirror", [*command, "--host", HOST, "--port", str(port)], port, dict(os.environ))


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10000, help="providers in the synthetic registry")
    parser.add_argument("--writes", type=int, default=60, help="commits timed for the feed latency")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved HTTP lookup rounds, mirror and registry")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each HTTP lookup round")
    parser.add_argument(
        "--ports",
        type=parse_ports,
        default=None,
        help="ports the servers may listen on, e.g. 8100-8199 (default: the first wholly free block of 100 from 8100)",
    )
    args = parser.parse_args()
    ports = Ports(args.ports or free_range())
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"trust-list-{args.size}.db"
    built = build_registry(path, args.size)
    derived = derive_entries(path)
    print(f"registry of {args.size:,} providers: built in {built:.1f} s, list entries derived in {derived:.1f} s")
    server = serve_registry(path, ports.next())
    url = f"http://{HOST}:{server.port}"
    mirror_path = OUT_DIR / f"mirror-{args.size}.db"
    try:
        httpx.get(f"{url}/api/v1/changes", timeout=30)
        idle = server.rss_mb()
        print(f"load average {load_average()}")
        first, total, plain, peak = fetch_list(url, False, server.rss_mb)
        print(f"trust list (plain): first byte {first * 1000:.0f} ms, total {total:.2f} s, {plain / 1e6:.1f} MB")
        first, total, zipped, peak_gzip = fetch_list(url, True, server.rss_mb)
        print(f"trust list (gzip):  first byte {first * 1000:.0f} ms, total {total:.2f} s, {zipped / 1e6:.1f} MB")
        highest = max(peak, peak_gzip)
        print(
            f"server RSS: idle {idle:.0f} MB, peak while streaming {highest:.0f} MB "
            f"({highest / idle:.2f}x idle; target at most 1.5x)"
        )
        listed, seconds, sync_peak = sync_in_child(mirror_path, url)
        print(
            f"mirror sync from empty: {seconds:.2f} s ({listed:,} providers), peak RSS of the syncing process "
            f"{sync_peak:.0f} MB (load average {load_average()})"
        )
        latencies = sorted(feed_latency(url, path, args.writes))
        if latencies:
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(
                f"feed latency commit -> long-polling follower ({len(latencies)} commits): "
                f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
            )
        in_process(path, mirror_path, url)
        over_http(path, mirror_path, server, args.rounds, args.seconds, ports)
    finally:
        server.stop()


def in_process(path: Path, mirror_path: Path, url: str) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        identifiers = [
            row[0]
            for row in connection.execute(
                select(ProviderIdentifier.normalised).order_by(func.random()).limit(2000)  # type: ignore[call-overload]
            )
        ]
    engine.dispose()
    mirrored = store.read_state(store.open_store(mirror_path))
    assert mirrored is not None
    rates: dict[str, list[float]] = {"mirror": [], "registry": []}
    mirror_reader = SqliteLookupReader(store.open_store(mirror_path))
    registry_reader = SqliteLookupReader(create_db_engine(f"sqlite:///{path}"))
    for _ in range(3):
        rates["mirror"].append(
            lookups_per_second(mirror_reader, store.settings_for(mirror_path, mirrored), identifiers, 3000)
        )
        rates["registry"].append(lookups_per_second(registry_reader, Settings(base_url=url), identifiers, 3000))
    mirror_rate, source_rate = statistics.median(rates["mirror"]), statistics.median(rates["registry"])
    print(
        f"in-process verdicts (3 interleaved rounds of 3,000 lookups, median): mirror {mirror_rate:,.0f}/s, "
        f"registry {source_rate:,.0f}/s, mirror/registry {mirror_rate / source_rate:.2f} "
        f"(load average {load_average()})"
    )


def over_http(path: Path, mirror_path: Path, registry: Server, rounds: int, seconds: float, ports: Ports) -> None:
    identifiers = lookup_identifiers(path)
    mirror = serve_mirror(mirror_path, ports.next())
    try:
        rates: dict[str, list[float]] = {"mirror": [], "registry": []}
        for _ in range(rounds):
            for name, port in (("mirror", mirror.port), ("registry", registry.port)):
                measured = load(port, identifiers, seconds, 32)
                if measured.failures:
                    raise RuntimeError(f"{measured.failures} failed lookups against the {name}")
                rates[name].append(measured.requests_per_second)
        mirror_rate, source_rate = statistics.median(rates["mirror"]), statistics.median(rates["registry"])
        print(
            f"HTTP lookups ({rounds} interleaved rounds of {seconds:.0f} s, 32 connections, median): "
            f"mirror serve {mirror_rate:,.0f}/s, registry serve {source_rate:,.0f}/s, "
            f"mirror/registry {mirror_rate / source_rate:.2f} (load average {load_average()})"
        )
    finally:
        mirror.stop()


if __name__ == "__main__":
    main()
