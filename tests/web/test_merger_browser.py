"""An operator records a merger in a real browser, choosing the successor from suggestions while typing."""

from __future__ import annotations

import datetime as dt

import httpx
from playwright.sync_api import Page, expect

from tests.web.test_browser import open_provider, sign_in


def _provider_id(live_server: str, name: str) -> int:
    return int(httpx.get(f"{live_server}/api/v1/providers", params={"q": name}).json()["items"][0]["id"])


def _trust(live_server: str, provider_id: int, at: str | None = None) -> dict[str, object]:
    profile = httpx.get(f"{live_server}/api/v1/providers/{provider_id}").json()
    identifier = profile["identifiers"][0]["normalised"]
    params = {"identifier": identifier, **({"at": at} if at else {})}
    return dict(httpx.get(f"{live_server}/api/v1/trust", params=params).json())


def test_an_operator_records_that_a_provider_was_absorbed(page: Page, live_server: str) -> None:
    absorbed = _provider_id(live_server, "Chartered Institute of Demo Engineers")
    successor = _provider_id(live_server, "Hollowmere")
    assert _trust(live_server, successor)["status"] == "expired"
    merged_on = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    sign_in(page, "operator@registry.example")
    open_provider(page, "Chartered Institute of Demo Engineers")
    page.get_by_role("link", name="Record a merger").click()
    page.get_by_label("What happened").select_option("absorbed by")
    successor_field = page.get_by_label("Successor")
    # Typed without the accent; the suggestions offer the real name with its country and type.
    successor_field.press_sequentially("universite de hollow", delay=20)
    option = page.locator("#dl-related_provider_id option").first
    expect(option).to_have_attribute("value", "Université de Hollowmere (FR, public HEI)")
    successor_field.fill(str(option.get_attribute("value")))
    expect(page.locator("#f-related_provider_id-id")).to_have_value(str(successor))
    page.get_by_label("Merger date").fill(merged_on)
    page.get_by_role("button", name="Record the merger").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chartered Institute of Demo Engineers")
    relations = page.get_by_role("heading", name="Relations").locator("xpath=following-sibling::ul[1]")
    expect(relations).to_contain_text(
        f"Chartered Institute of Demo Engineers absorbed by Université de Hollowmere on {merged_on}"
    )
    expect(page.get_by_role("link", name="Record a merger")).to_have_count(0)
    history = page.locator("table.diff")
    expect(history).to_contain_text(
        f"recorded that Chartered Institute of Demo Engineers was absorbed by Université de Hollowmere on {merged_on}"
    )
    # The verdicts follow at once: the absorbed provider is closed, its successor counts its result.
    assert _trust(live_server, absorbed)["status"] == "closed"
    assert _trust(live_server, absorbed, at=(dt.date.today() - dt.timedelta(days=31)).isoformat())["status"] == (
        "trusted"
    )
    inherited = _trust(live_server, successor)
    assert inherited["status"] == "trusted"
    assert [basis["inherited_from"] for basis in inherited["basis"]] == [absorbed]  # type: ignore[attr-defined]
    page.goto(f"/providers/{successor}")
    expect(page.locator("section[aria-labelledby=verdict]")).to_contain_text("trusted")

    # Recorded in error after all: the operator withdraws it and every verdict is as before.
    page.goto(f"/staff/providers/{absorbed}")
    page.get_by_role("link", name="Withdraw (entered in error)").click()
    page.get_by_label("Reason").fill("The wrong provider was chosen")
    page.get_by_role("button", name="Withdraw relation").click()
    expect(page.get_by_role("status")).to_contain_text("withdrawn")
    expect(relations).to_contain_text("withdrawn: The wrong provider was chosen")
    expect(page.get_by_role("link", name="Record a merger")).to_have_count(1)
    assert _trust(live_server, absorbed)["status"] == "trusted"
    assert _trust(live_server, successor)["status"] == "expired"
