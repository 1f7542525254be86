"""Time failed sign-ins: an unknown address must cost what a wrong password for a real account costs.

    .venv/bin/python bench/signin.py [--attempts 30]

Builds a fresh SQLite registry, creates an account with a real argon2id hash (the library's
recommended parameters, as `hash_password` makes them) and one without a password, then posts the
sign-in form through the application (in process, no network) for each kind of miss, alternating
kinds so that machine load affects all alike. The throttle's limits are raised so that it never
answers in the sign-in's place. Prints the median and the 90th percentile per kind in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from litestar.testing import TestClient
from sqlmodel import Session

from registry import migrations
from registry.accounts.services import create_user
from registry.app import create_app
from registry.audit.services import Actor
from registry.db import create_db_engine
from registry.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=30)
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="registry-signin-bench-"))
    url = f"sqlite:///{var_dir / 'registry.db'}"
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        create_user(
            session,
            email="real@bench.example",
            display_name="Real",
            password="the right password",
            role="operator",
            actor=Actor("bench"),
        )
        create_user(
            session,
            email="oidc@bench.example",
            display_name="OIDC",
            password=None,
            role="operator",
            actor=Actor("bench"),
        )
        session.commit()
    settings = Settings(
        var_dir=var_dir,
        database_url=url,
        secret_key="bench",
        login_attempts_per_account=10**6,
        login_attempts_per_address=10**6,
    )
    kinds = {
        "unknown address": "nobody@bench.example",
        "wrong password": "real@bench.example",
        "account without password": "oidc@bench.example",
    }
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    with TestClient(create_app(settings), base_url="http://registry.test") as client:
        client.get("/signin")
        token = client.cookies.get("registry_csrf")
        for attempt in range(args.attempts):
            for kind, email in kinds.items():
                started = time.perf_counter()
                response = client.post(
                    "/signin",
                    data={"email": email, "password": f"wrong {attempt}", "_csrf_token": token},
                )
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 400, response.status_code
    print(f"{args.attempts} failed sign-ins per kind (ms):")
    for kind, values in timings.items():
        ordered = sorted(values)
        p90 = ordered[int(len(ordered) * 0.9) - 1]
        print(f"  {kind:<26} median {statistics.median(values):7.1f}   p90 {p90:7.1f}")


if __name__ == "__main__":
    main()
