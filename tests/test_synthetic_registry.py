"""The benchmarks' synthetic registry holds the rows the application itself would derive from its records.

bench/synthetic.py writes timelines, trust list entries and feed positions directly, bypassing the unit
of work; if the application's derivation changes and the builder does not follow, the benchmarks would
measure rows of the wrong shape. This rebuilds them with the application's code and compares.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlmodel import Session, col, select

from registry.db import create_db_engine
from registry.providers.models import Provider
from registry.settings import PROJECT_ROOT, get_settings
from registry.trust import feed
from registry.trust.models import TrustListEntry, TrustTimeline
from registry.trust.timeline import build_document, status_today
from registry.trust.verdict import Policy

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from synthetic import CHUNK, build_registry  # noqa: E402


def test_synthetic_rows_match_what_the_application_derives(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Two chunks, so the feed positions run on across a chunk boundary.
    monkeypatch.setattr("synthetic.CHUNK", 150)
    assert CHUNK > 150
    size = 300
    path = tmp_path / "registry.db"
    assert build_registry(path, size, workers=1) > 0
    settings = get_settings()
    policy = Policy(settings.require_eqar_registered, settings.require_internal_qa_years)
    engine = create_db_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        ids = [i for i in session.scalars(select(col(Provider.id)).order_by(col(Provider.id))) if i is not None]
        assert ids == list(range(1, size + 1))
        timelines = {row.provider_id: row for row in session.exec(select(TrustTimeline))}
        for provider_id in ids:
            provider = session.get(Provider, provider_id)
            assert provider is not None
            document = build_document(session, provider)
            timeline = timelines[provider_id]
            assert timeline.document == document, provider_id
            assert (timeline.current_status, timeline.status_until) == status_today(document)
        stored = {
            row.provider_id: (row.position, row.entry)
            for row in session.exec(select(TrustListEntry).order_by(col(TrustListEntry.position)))
        }
        built = feed.build_entries(session, ids, policy)
        assert {pid: entry for pid, entry in built.items() if entry is not None} == {
            pid: entry for pid, (_position, entry) in stored.items()
        }
        # Positions 1..n in provider order, and the counter at the last one.
        assert [position for position, _entry in stored.values()] == list(range(1, len(stored) + 1))
        assert sorted(stored) == list(stored)
        assert feed.current_position(session) == len(stored)
        # A registry where nothing changed records nothing new in the feed.
        assert feed.record(session, ids, policy) == 0
    engine.dispose()
