"""Staff provider search over a synthetic registry: milliseconds per page of results.

    .venv/bin/python bench/search.py [--size 100000] [--repeat 5]

Reuses (or builds) the registry that bench/lookup.py builds under bench/out/, migrates it to the
latest schema, and times `search_page` (what /staff/providers/ and /api/v1/providers run) for a
name fragment, a whole identifier, each filter and a deep page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from sqlmodel import Session, select  # noqa: E402
from synthetic import build_registry  # noqa: E402

from registry import migrations  # noqa: E402
from registry.db import create_db_engine  # noqa: E402
from registry.providers.models import ProviderIdentifier, ProviderName  # noqa: E402
from registry.providers.profile import search_page  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    database = BENCH_DIR / "out" / f"registry-{options.size}.db"
    build_registry(database, options.size)
    url = f"sqlite:///{database}"
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        middle = options.size // 2
        name = session.exec(select(ProviderName.name).offset(middle).limit(1)).one()
        identifier = session.exec(
            select(ProviderIdentifier.normalised).where(ProviderIdentifier.scheme == "deqar").offset(middle).limit(1)
        ).first()
        cases = {
            "name fragment": {"q": name.split()[-1]},
            "whole identifier": {"q": identifier or name},
            "country filter": {"country": "NL"},
            "type filter": {"provider_type": "MOOC platform"},
            "verdict filter": {"status": "expired"},
            "page 400, no filter": {"page": 400},
        }
        print(f"search over {options.size:,} providers, median of {options.repeat} runs:")
        for label, chosen in cases.items():
            arguments = {"q": None, "country": None, "provider_type": None, "status": None, "page": 1, "per_page": 25}
            arguments.update(chosen)
            times = []
            for _ in range(options.repeat):
                started = time.perf_counter()
                found = search_page(session, **arguments)  # type: ignore[arg-type]
                times.append(1000 * (time.perf_counter() - started))
            print(f"  {label:22s} {statistics.median(times):8.1f} ms   ({found['total']:,} matches)")


if __name__ == "__main__":
    main()
