"""Trust list, mirror and change feed benchmark.

    .venv/bin/python bench/trust_list.py --size 10000

Builds a synthetic registry (bench/synthetic.py, which fills its trust list entries) under bench/out/,
serves it as `registry serve` does (one worker, ports 8100-8199) and prints: the trust list's time
to first byte, total time and size (plain and gzip), the server's RSS idle and at its peak while
streaming the list, a mirror sync from an empty copy, the feed latency from a commit to a
long-polling mirror (p50, p99), and lookups per second from the mirror and from the registry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from lookup import HOST, OUT_DIR, free_port, serve_registry  # noqa: E402
from synthetic import build_registry  # noqa: E402

from registry.db import create_db_engine, session_scope  # noqa: E402
from registry.mirror import store  # noqa: E402
from registry.mirror.sync import sync  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10000, help="providers in the synthetic registry")
    parser.add_argument("--writes", type=int, default=60, help="commits timed for the feed latency")
    args = parser.parse_args()
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"trust-list-{args.size}.db"
    built = build_registry(path, args.size)
    derived = derive_entries(path)
    print(f"registry of {args.size:,} providers: built in {built:.1f} s, list entries derived in {derived:.1f} s")
    server = serve_registry(path, free_port(set()))
    url = f"http://{HOST}:{server.port}"
    try:
        httpx.get(f"{url}/api/v1/changes", timeout=30)
        idle = server.rss_mb()
        first, total, plain, peak = fetch_list(url, False, server.rss_mb)
        print(f"trust list (plain): first byte {first * 1000:.0f} ms, total {total:.2f} s, {plain / 1e6:.1f} MB")
        first, total, zipped, peak_gzip = fetch_list(url, True, server.rss_mb)
        print(f"trust list (gzip):  first byte {first * 1000:.0f} ms, total {total:.2f} s, {zipped / 1e6:.1f} MB")
        print(f"server RSS: idle {idle:.0f} MB, peak while streaming {max(peak, peak_gzip):.0f} MB")
        with tempfile.TemporaryDirectory() as scratch:
            mirror_path = Path(scratch) / "mirror.db"
            started = time.perf_counter()
            report = sync(store.open_store(mirror_path), url)
            print(f"mirror sync from empty: {time.perf_counter() - started:.2f} s ({report.listed:,} providers)")
            latencies = sorted(feed_latency(url, path, args.writes))
            if latencies:
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                print(
                    f"feed latency commit -> long-polling follower ({len(latencies)} commits): "
                    f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
                )
            engine = create_engine(f"sqlite:///{path}")
            with engine.connect() as connection:
                identifiers = [
                    row[0]
                    for row in connection.execute(
                        select(ProviderIdentifier.normalised).order_by(func.random()).limit(2000)  # type: ignore[call-overload]
                    )
                ]
            mirrored = store.read_state(store.open_store(mirror_path))
            assert mirrored is not None
            mirror_rate = lookups_per_second(
                SqliteLookupReader(store.open_store(mirror_path)),
                store.settings_for(mirror_path, mirrored),
                identifiers,
                5000,
            )
            source_rate = lookups_per_second(
                SqliteLookupReader(create_db_engine(f"sqlite:///{path}")), Settings(base_url=url), identifiers, 5000
            )
            print(f"in-process verdicts (5,000 lookups): mirror {mirror_rate:,.0f}/s, registry {source_rate:,.0f}/s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
