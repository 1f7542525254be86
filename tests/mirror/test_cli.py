"""`registry mirror sync` as a verifier runs it: plain failures without --follow, patient retries with it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.cli import main
from tests.conftest import free_port


def test_an_unreachable_source_fails_a_single_sync_with_its_reason(tmp_path: Path) -> None:
    port = free_port(range(8700, 8720))
    ran = CliRunner().invoke(
        main, ["mirror", "sync", "--source", f"http://127.0.0.1:{port}", "--db", str(tmp_path / "m.db")]
    )
    assert ran.exit_code == 1 and "could not be read" in ran.output


def test_following_retries_an_unreachable_source_with_growing_pauses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port(range(8700, 8720))
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", sleep)
    ran = CliRunner().invoke(
        main, ["mirror", "sync", "--source", f"http://127.0.0.1:{port}", "--db", str(tmp_path / "m.db"), "--follow"]
    )
    assert ran.exit_code == 0, ran.output
    assert pauses == [1.0, 2.0, 4.0, 8.0]
    assert ran.output.count("trying again") == 4
