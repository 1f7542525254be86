"""Bytes per provider in a synthetic registry's SQLite file, by table and index (SQLite's dbstat).

    .venv/bin/python bench/footprint.py --size 100000

Builds the registry under bench/out/ as bench/lookup.py does (reused when it exists) and prints,
for every table and index that holds at least 1 byte per provider: its pages' bytes per provider,
the payload bytes per provider (what the rows hold) and the share of the file.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from synthetic import build_registry  # noqa: E402

OUT_DIR = BENCH_DIR / "out"


def footprint(path: Path) -> list[tuple[str, str, int, int]]:
    """(name, table or index, bytes in pages, payload bytes) of every b-tree in the file, largest first."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        kinds = dict(connection.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'index')"))
        rows = connection.execute(
            "SELECT name, sum(pgsize), sum(payload) FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC"
        ).fetchall()
    finally:
        connection.close()
    return [(name, kinds.get(name, "table"), pages, payload) for name, pages, payload in rows]


def report(path: Path, size: int) -> None:
    rows = footprint(path)
    total = sum(pages for _name, _kind, pages, _payload in rows)
    print(f"{path.name}: {os.path.getsize(path) / 1e6:,.0f} MB, {total / size:,.0f} bytes per provider")
    print(f"   {'b-tree':40} {'kind':6} {'bytes/provider':>14} {'payload/provider':>16} {'share':>6}")
    for name, kind, pages, payload in rows:
        if pages / size < 1:
            continue
        print(f"   {name:40} {kind:6} {pages / size:14,.0f} {payload / size:16,.0f} {pages / total:6.1%}")
    tables = sum(pages for _name, kind, pages, _payload in rows if kind == "table")
    print(f"   tables {tables / size:,.0f} bytes per provider, indexes {(total - tables) / size:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="providers in the synthetic registry")
    args = parser.parse_args()
    database = OUT_DIR / f"registry-{args.size}.db"
    seconds = build_registry(database, args.size)
    print(f"built in {seconds:.0f} s" if seconds else "reused the cached build", flush=True)
    report(database, args.size)


if __name__ == "__main__":
    main()
