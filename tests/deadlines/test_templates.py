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
