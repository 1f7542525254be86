"""Every reminder template renders, for every kind, before and after the deadline."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.deadlines.services import KINDS
from registry.deadlines.sweep import MISSED, reminder_mail
from registry.settings import Settings

TODAY = dt.date(2030, 1, 10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("offset", [30, MISSED])
def test_each_reminder_renders_as_text_and_html_with_the_link(kind: str, offset: int) -> None:
    due = TODAY + dt.timedelta(days=12) if offset else TODAY - dt.timedelta(days=3)
    row = {
        "id": 7,
        "offset_days": offset,
        "kind": kind,
        "due_on": due,
        "description": "What is due",
        "provider_id": None if kind == "eqar_registration_end" else 42,
        "agency_id": None if kind == "self_assessment_due" else 3,
        "provider_name": None if kind == "eqar_registration_end" else "Lake <b>College</b>",
        "agency_name": None if kind == "self_assessment_due" else "Review & Co",
    }
    mail = reminder_mail(row, TODAY, Settings(base_url="https://registry.example"))
    link = "https://registry.example/" if kind == "eqar_registration_end" else "https://registry.example/providers/42"
    assert link in mail.text and f'href="{link}"' in (mail.html or "")
    assert mail.subject.startswith("Missed: " if offset == MISSED else "Reminder: ")
    assert due.isoformat() in mail.subject and due.isoformat() in mail.text
    assert ("3 days ago" if offset == MISSED else "in 12 days") in mail.text
    if row["agency_name"]:
        assert "Review & Co" in mail.text and "Review &amp; Co" in (mail.html or "")
    if row["provider_name"]:
        assert "Lake &lt;b&gt;College&lt;/b&gt;" in (mail.html or "")  # names are escaped in HTML
    assert mail.cause == "reminder:7"


def _row(kind: str, offset: int, due: dt.date, verdict: str | None = None) -> dict[str, object]:
    return {
        "id": 8,
        "offset_days": offset,
        "kind": kind,
        "due_on": due,
        "description": "What is due",
        "provider_id": 42,
        "agency_id": 3,
        "provider_name": "Lake College",
        "agency_name": "Review & Co",
        "verdict": verdict,
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("ahead", "offset", "said"),
    [(0, 7, "today"), (1, 7, "tomorrow"), (2, 7, "in 2 days"), (-1, MISSED, "(1 day ago)"), (-2, MISSED, "2 days ago")],
)
def test_days_are_counted_in_words(kind: str, ahead: int, offset: int, said: str) -> None:
    mail = reminder_mail(_row(kind, offset, TODAY + dt.timedelta(days=ahead)), TODAY, Settings())
    for body in (mail.text, mail.html or ""):
        assert said in body
        assert "0 days" not in body and "1 days" not in body


@pytest.mark.parametrize(
    ("verdict", "said", "unsaid"),
    [
        ("trusted", "Another QA result still covers this provider, so verifiers still see it as trusted", "expired"),
        ("trusted_with_conditions", "still see it as trusted with conditions", "expired"),
        ("expired", "Verifiers now see this provider as expired", "still covers"),
        ("not_trusted", "Verifiers now see this provider as not trusted", "still covers"),
    ],
)
def test_a_missed_result_expiry_states_the_real_verdict(verdict: str, said: str, unsaid: str) -> None:
    mail = reminder_mail(_row("result_expiry", MISSED, TODAY - dt.timedelta(days=3), verdict), TODAY, Settings())
    assert said in mail.text and unsaid not in mail.text
    assert said.split(" as ")[0] in (mail.html or "") and unsaid not in (mail.html or "")
