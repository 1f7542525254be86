"""A mirror built from a live source registry answers every verdict exactly as the source does."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session, col

from registry.agencies.models import Agency
from registry.agencies.services import add_registration
from registry.cli import main
from registry.db import session_scope
from registry.errors import ValidationFailed
from registry.mirror import store
from registry.mirror import sync as mirror_sync
from registry.mirror.app import create_mirror_app
from registry.providers import proofs
from registry.providers.models import Provider, ProviderIdentifier, ProviderSuspension
from registry.providers.services import add_identifier, add_relation, end_suspension, suspend, update_provider
from registry.qa import services as qa
from registry.qa.models import QAResult
from registry.settings import Settings
from registry.trust import feed, services
from registry.trust.models import TrustListEntry
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.web import Database
from tests import factories as f
from tests.mirror.conftest import Source
from tests.providers.test_proofs import ed25519_did_key, sign

DAYS = [dt.date(2014, 6, 1) + dt.timedelta(days=97 * n) for n in range(80)]
SCOPES: list[dict[str, Any]] = [{}, {"eqf_level": "7"}, {"field": "0413"}, {"programme": "PRG-1", "eqf_level": "6"}]


def random_writes(source: Source, rng: random.Random, rounds: int, settings: Settings) -> None:
    """Writes of every kind, each in its own transaction, as the staff UI and the API make them."""
    for _ in range(rounds):
        with session_scope(source.engine) as session:
            providers = list(session.scalars(select(Provider).where(col(Provider.confirmed))))
            agencies = list(session.scalars(select(Agency)))
            results = list(session.scalars(select(QAResult).where(col(QAResult.withdrawn_at).is_(None))))
            kind = rng.choice(
                ["provider", "result", "result", "programme", "update", "withdraw", "revoke", "suspend", "unsuspend"]
                + ["identifier", "prove", "merge", "window", "rename"]
            )
            if kind == "provider" or len(providers) < 4:
                f.provider(session)
            elif kind == "result" or not results:
                start = dt.date(2012, 1, 1) + dt.timedelta(days=rng.randrange(0, 5000))
                f.result(
                    session,
                    rng.choice(agencies[-4:]),
                    rng.sample(providers, rng.choice([1, 1, 2])),
                    decision=rng.choice(
                        ["positive", "positive", "positive with conditions or restrictions", "negative"]
                    ),
                    valid_from=start.isoformat(),
                    valid_to=(start + dt.timedelta(days=rng.randrange(300, 2500))).isoformat(),
                    limit_eqf_levels=rng.choice([[], [], [6, 7], [8]]),
                )
            elif kind == "programme":
                start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(0, 3000))
                f.result(
                    session,
                    rng.choice(agencies[-4:]),
                    [rng.choice(providers)],
                    activity_type="programme",
                    valid_from=start.isoformat(),
                    programmes=[{"name": "Programme One", "identifier": "PRG-1", "eqf_level": 6}],
                )
            elif kind == "update":
                result = rng.choice(results)
                qa.update_result(
                    session,
                    result,
                    qa.ResultInput(
                        agency_id=result.agency_id,
                        provider_ids=[p.id or 0 for p in rng.sample(providers, 1)],
                        activity_type="institutional",
                        status=f.OBLIGATORY,
                        decision=rng.choice(["positive", "negative"]),
                        valid_from=result.valid_from,
                        valid_to=result.valid_to + dt.timedelta(days=rng.randrange(-200, 400)),
                    ),
                    f.TEST,
                    result.version,
                )
            elif kind == "withdraw":
                qa.withdraw_result(session, rng.choice(results), reason="recorded in error", actor=f.TEST)
            elif kind == "revoke":
                result = rng.choice([r for r in results if r.revoked_from is None] or results)
                # A revocation after the result's end is refused: nothing is written.
                with contextlib.suppress(ValidationFailed):
                    qa.revoke_result(
                        session,
                        result,
                        revoked_from=result.valid_from + dt.timedelta(days=rng.randrange(1, 900)),
                        actor=f.TEST,
                    )
            elif kind == "suspend":
                start = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(0, 4000))
                suspend(
                    session,
                    rng.choice(providers),
                    suspended_from=start,
                    suspended_to=None,
                    reason="inquiry",
                    actor=f.TEST,
                )
            elif kind == "unsuspend":
                open_ = list(
                    session.scalars(select(ProviderSuspension).where(col(ProviderSuspension.suspended_to).is_(None)))
                )
                if open_:
                    suspension = rng.choice(open_)
                    end_suspension(
                        session, suspension, ends_on=suspension.suspended_from + dt.timedelta(days=200), actor=f.TEST
                    )
            elif kind == "identifier":
                add_identifier(
                    session,
                    rng.choice(providers),
                    scheme="url",
                    value=f"https://issuer{rng.randrange(10**9)}.example/i",
                    actor=f.TEST,
                    valid_from=rng.choice([None, "2019-01-01"]),
                    valid_to=rng.choice([None, "2027-06-30"]),
                )
            elif kind == "prove":
                key, did = ed25519_did_key()
                claimed = add_identifier(
                    session, rng.choice(providers), scheme="did", value=did, actor=f.TEST, origin="claimed"
                )
                challenge = proofs.issue_challenge(session, claimed, actor=f.TEST, settings=settings)
                proofs.verify_proof(
                    Database(session.connection()),
                    challenge.id or 0,
                    actor=f.TEST,
                    settings=settings,
                    signature=sign(challenge.challenge, key),
                )
            elif kind == "merge":
                absorbed, into = rng.sample(providers, 2)
                # A random merger may be refused (a second merger, a loop, a closed successor): nothing is written.
                with contextlib.suppress(ValidationFailed):
                    add_relation(
                        session,
                        absorbed,
                        kind="absorbed by",
                        related_provider_id=into.id or 0,
                        valid_from=dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(0, 2500)),
                        actor=f.TEST,
                    )
            elif kind == "window":
                agency = rng.choice(agencies[-4:])
                start = dt.date(2008, 1, 1) + dt.timedelta(days=rng.randrange(0, 4000))
                # A window overlapping one already recorded is refused: nothing is written.
                with contextlib.suppress(ValidationFailed):
                    add_registration(
                        session,
                        agency,
                        registered_from=start,
                        registered_to=start + dt.timedelta(days=1800),
                        actor=f.TEST,
                    )
            else:
                provider = rng.choice(providers)
                update_provider(session, provider, {"name": f"Renamed {rng.randrange(1000)}"}, f.TEST, provider.version)


def seed(source: Source) -> None:
    with session_scope(source.engine) as session:
        f.agency(session)
        f.agency(session, registered=("2016-01-01", "2020-12-31"))
        f.agency(session, registered=None)
        f.agency(session, registered=("2005-01-01", None))
        for _ in range(5):
            f.provider(session)


def assert_same_verdicts(source: Source, path: Path, settings: Settings) -> int:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    mirrored = store.read_state(store.open_store(path))
    assert mirrored is not None
    mirror_settings = store.settings_for(path, mirrored)
    reader = SqliteLookupReader(store.open_store(path))
    compared = 0
    with source.engine.connect() as connection:
        values = [row[0] for row in connection.execute(select(ProviderIdentifier.normalised))]  # type: ignore[call-overload]
        for value in values + ["did:web:nobody.example"]:
            for day in DAYS:
                for scope in SCOPES:
                    query = services.parse_query({"identifier": value, "at": day.isoformat(), **scope}, now)
                    expected = services.verdict(connection, query, settings, now)
                    got = services.verdict(reader, query, mirror_settings, now)
                    assert got == expected, f"{value} at {day} {scope}"
                    compared += 1
    return compared


@pytest.fixture
def source_settings(source: Source, tmp_path: Path) -> Settings:
    return Settings(database_url=source.database_url, base_url=source.url, var_dir=tmp_path / "writer")


class TestMirror:
    def test_random_writes_give_identical_verdicts_offline(
        self, source: Source, source_settings: Settings, tmp_path: Path
    ) -> None:
        rng = random.Random(14)
        seed(source)
        random_writes(source, rng, 25, source_settings)
        path = tmp_path / "mirror.db"
        first = mirror_sync.sync(store.open_store(path), source.url)
        assert first.listed > 0
        random_writes(source, rng, 35, source_settings)
        second = mirror_sync.sync(store.open_store(path), source.url)
        assert second.changes > 0 and second.listed == 0
        assert assert_same_verdicts(source, path, source_settings) > 1000

        # The mirror's HTTP API and command line answer the same as the source's API, offline.
        identifier = first_did(source)
        online = httpx.get(f"{source.url}/api/v1/trust", params={"identifier": identifier, "at": "2021-05-05"}).json()
        with TestClient(create_mirror_app(path)) as client:
            offline = client.get("/api/v1/trust", params={"identifier": identifier, "at": "2021-05-05"}).json()
            bad = client.get("/api/v1/trust", params={"identifier": identifier, "at": "2021-02-30"})
        assert {**offline, "evaluated_at": None, "mirror": None} == {**online, "evaluated_at": None, "mirror": None}
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "at"
        printed = CliRunner().invoke(main, ["mirror", "trust", identifier, "--db", str(path), "--at", "2021-05-05"])
        assert printed.exit_code == 0, printed.output
        assert json.loads(printed.output)["status"] == online["status"]

    def test_a_cut_sync_resumes_without_loss_or_duplication(
        self, source: Source, source_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rng = random.Random(7)
        seed(source)
        random_writes(source, rng, 15, source_settings)
        path = tmp_path / "mirror.db"
        engine = store.open_store(path)
        # Cut inside the trust list: nothing of it is applied.
        with httpx.Client(transport=Cutting(cut_list=True)) as client, pytest.raises(mirror_sync.SyncFailed):
            mirror_sync.sync(engine, source.url, client=client)
        assert store.read_state(engine) is None
        mirror_sync.sync(engine, source.url)
        random_writes(source, rng, 20, source_settings)
        # Cut on the third page of the feed: the first two pages and their cursor stay applied.
        monkeypatch.setattr(mirror_sync, "PAGE", 2)
        before = store.read_state(engine)
        with httpx.Client(transport=Cutting(fail_changes_from=3)) as client, pytest.raises(mirror_sync.SyncFailed):
            mirror_sync.sync(engine, source.url, client=client)
        cut = store.read_state(engine)
        assert before is not None and cut is not None and cut.position > before.position
        with source.engine.connect() as connection:
            assert cut.position < feed.current_position(connection)
        mirror_sync.sync(engine, source.url)
        with source.engine.connect() as connection, engine.connect() as copy:
            expected = {
                pid: json.loads(entry or "null")
                for pid, entry in connection.execute(
                    select(col(TrustListEntry.provider_id), col(TrustListEntry.entry)).where(
                        col(TrustListEntry.entry).is_not(None)
                    )
                )
            }
            got = {
                pid: json.loads(entry)
                for pid, entry in copy.execute(select(store.entries.c.provider_id, store.entries.c.entry))
            }
            assert got == expected
            held = sorted(
                tuple(r) for r in copy.execute(select(store.identifiers.c.provider_id, store.identifiers.c.normalised))
            )
            assert held == sorted((pid, i["normalised"]) for pid, e in expected.items() for i in e["identifiers"])
            final = store.read_state(engine)
            assert final is not None and final.position == feed.current_position(connection)

    def test_a_list_that_does_not_verify_is_refused(self, source: Source, tmp_path: Path) -> None:
        seed(source)
        engine = store.open_store(tmp_path / "mirror.db")
        with (
            httpx.Client(transport=Cutting(tamper=True)) as client,
            pytest.raises(mirror_sync.SyncFailed, match="refused"),
        ):
            mirror_sync.sync(engine, source.url, client=client)
        assert store.read_state(engine) is None
        with TestClient(create_mirror_app(tmp_path / "mirror.db")) as client:
            response = client.get("/api/v1/trust", params={"identifier": "did:web:x.example"})
        assert response.status_code == 503 and "not been synced" in response.json()["detail"]

    def test_a_long_poll_hears_a_commit_within_a_second(self, source: Source) -> None:
        seed(source)
        first = httpx.get(f"{source.url}/api/v1/changes", params={"after": 10**6})
        assert first.status_code == 200, first.text
        start = first.json()["position"]
        heard: dict[str, Any] = {}

        def poll() -> None:
            response = httpx.get(f"{source.url}/api/v1/changes", params={"after": start, "wait": 10}, timeout=20)
            heard["at"] = time.monotonic()
            heard["changes"] = response.json()["changes"]

        # Several polls at once land on both workers; each must hear the commit.
        pollers = [threading.Thread(target=poll) for _ in range(3)]
        for poller in pollers:
            poller.start()
        time.sleep(1.0)
        with session_scope(source.engine) as session:
            made = f.provider(session)
        committed = time.monotonic()
        for poller in pollers:
            poller.join(timeout=15)
        assert [c["provider_id"] for c in heard["changes"]] == [made.id]
        assert heard["at"] - committed < 1.0

    def test_concurrent_writers_are_seen_in_order_and_completely(self, source: Source) -> None:
        seed(source)
        with source.engine.connect() as connection:
            start = feed.current_position(connection)
        seen: dict[int, Any] = {}
        cursor = start
        errors: list[BaseException] = []

        def writer(number: int) -> None:
            try:
                for index in range(8):
                    with session_scope(source.engine) as session:
                        provider = f.provider(session, name=f"Writer {number} provider {index}")
                        agency = session.scalars(select(Agency)).first()
                        assert agency is not None
                        f.result(session, agency, [provider])
            except BaseException as error:  # noqa: BLE001 - reported by the test thread
                errors.append(error)

        def follow_once() -> None:
            nonlocal cursor
            with source.engine.connect() as connection:
                rows = feed.changes_after(connection, cursor, 5)
            positions = [row[0] for row in rows]
            assert positions == sorted(positions) and all(p > cursor for p in positions)
            for position, provider_id, entry, _at in rows:
                seen[provider_id] = entry
                cursor = position

        writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in writers:
            thread.start()
        while any(thread.is_alive() for thread in writers):
            follow_once()
            time.sleep(0.01)
        assert not errors, errors
        for _ in range(40):
            follow_once()
        with source.engine.connect() as connection:
            rows = connection.execute(
                select(col(TrustListEntry.provider_id), col(TrustListEntry.entry)).where(
                    col(TrustListEntry.position) > start
                )
            )
            expected = {provider_id: entry for provider_id, entry in rows}
        assert len(expected) == 32 and seen == expected


def first_did(source: Source) -> str:
    with Session(source.engine) as session:
        found = session.exec(
            select(ProviderIdentifier.normalised)  # type: ignore[call-overload]
            .where(ProviderIdentifier.scheme == "did")
            .order_by(ProviderIdentifier.id)
        ).first()
        assert found is not None
        return str(found[0])


class Cutting(httpx.HTTPTransport):
    """The network failing mid-sync: a trust list cut short or altered, or the feed failing from its n-th page."""

    def __init__(self, cut_list: bool = False, fail_changes_from: int | None = None, tamper: bool = False) -> None:
        super().__init__()
        self.cut_list, self.fail_changes_from, self.tamper = cut_list, fail_changes_from, tamper
        self.changes_asked = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/changes":
            self.changes_asked += 1
            if self.fail_changes_from is not None and self.changes_asked >= self.fail_changes_from:
                raise httpx.ReadError("connection reset by peer", request=request)
        response = super().handle_request(request)
        if request.url.path == "/api/v1/trust-list" and (self.cut_list or self.tamper):
            body = response.read()
            if self.cut_list:
                body = body[: len(body) // 2]
            else:
                body = body.replace(b'"decision":"positive"', b'"decision":"negative"', 1)
                body = body.replace(b'"name":"Test Provider', b'"name":"Test Providex', 1)
            return httpx.Response(response.status_code, headers={"content-type": "application/json"}, content=body)
        return response
