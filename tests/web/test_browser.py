"""The staff web UI in a real browser against a real server, as its users would meet it."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from playwright.sync_api import Page, expect

DEMO_PASSWORD = "demo-password"


def _day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/signin")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_provider(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find providers").click()
    page.get_by_label("Name or identifier").fill(name)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def verdict(live_server: str, identifier: str) -> str:
    return str(httpx.get(f"{live_server}/api/v1/trust", params={"identifier": identifier}).json()["status"])


def test_editor_records_a_result_sees_the_verdict_change_and_withdraws_it(page: Page, live_server: str) -> None:
    identifier = "did:web:newcomer.example"
    assert verdict(live_server, identifier) == "not_trusted"
    sign_in(page, "editor@dac.example")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    open_provider(page, "Newcomer Learning Lab")
    page.get_by_role("link", name="Record a QA result").click()
    page.get_by_label("Activity").select_option("institutional")
    page.get_by_label("Status").select_option("voluntary")
    page.get_by_label("Decision").select_option("positive")
    page.get_by_label("Valid from").fill(_day(-5))
    page.get_by_label("Report links").fill("https://dac.example/reports/newcomer")
    page.get_by_role("button", name="Record result").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Newcomer Learning Lab")
    assert verdict(live_server, identifier) == "trusted"

    page.get_by_role("link", name=re.compile(r"^Withdraw #")).first.click()
    page.get_by_label("Reason").fill("recorded for the wrong provider")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("cell", name=re.compile("withdrawn: recorded for the wrong provider"))).to_be_visible()
    assert verdict(live_server, identifier) == "not_trusted"


def test_a_validation_error_is_shown_next_to_the_field_with_the_input_kept(page: Page) -> None:
    sign_in(page, "editor@dac.example")
    open_provider(page, "Newcomer Learning Lab")
    page.get_by_role("link", name="Record a QA result").click()
    page.get_by_label("Activity").select_option("programme")
    page.get_by_label("Status").select_option("voluntary")
    page.get_by_label("Decision").select_option("positive")
    page.get_by_label("Valid from").fill(_day(0))
    page.get_by_label("Valid to").fill(_day(-1))
    page.get_by_label("Summary").fill("typed before the error")
    page.get_by_role("button", name="Record result").click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct the form")
    expect(page.locator("#e-valid_to")).to_have_text("the end of validity must be after its start")
    expect(page.locator("#e-programmes")).to_contain_text("names the programmes")
    expect(page.get_by_label("Valid to")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Summary")).to_have_value("typed before the error")


def test_two_people_editing_the_same_provider_meet_a_conflict_not_a_lost_update(
    browser,
    page: Page,
    live_server: str,  # type: ignore[no-untyped-def]
) -> None:
    sign_in(page, "operator@registry.example")
    open_provider(page, "Northbridge University")
    page.get_by_role("link", name="Edit master data").click()

    other_context = browser.new_context(base_url=live_server)
    other = other_context.new_page()
    sign_in(other, "operator@registry.example")
    open_provider(other, "Northbridge University")
    other.get_by_role("link", name="Edit master data").click()
    other.get_by_label("Website").fill("https://first-edit.example/")
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_role("definition").filter(has_text="https://first-edit.example")).to_be_visible()
    other_context.close()

    page.get_by_label("Website").fill("https://second-edit.example/")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Someone else changed this provider")
    expect(page.get_by_role("cell", name=re.compile(r"first-edit\.example"))).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile(r"second-edit\.example"))).to_be_visible()


def test_a_page_outside_ones_role_is_refused(page: Page) -> None:
    sign_in(page, "staff@northbridge.example")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    response = page.goto("/staff/agencies/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    response = page.goto("/staff/results/1/withdraw")
    assert response is not None and response.status == 403


def test_signing_out_and_anonymous_visitors_are_sent_to_sign_in(page: Page) -> None:
    sign_in(page, "reviewer@dac.example")
    page.get_by_role("button", name="Sign out").click()
    page.goto("/staff")
    expect(page).to_have_url(re.compile(r"/signin\?next=/staff$"))
    sign_in(page, "reviewer@dac.example", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("The e-mail address or the password is wrong.")


def test_provider_search_filters_and_pages_through_results(page: Page) -> None:
    sign_in(page, "reviewer@dac.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find providers").click()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text("Page 1 of 2")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text("Page 2 of 2")
    page.get_by_label("Type").select_option("MOOC platform")
    page.get_by_role("button", name="Search").click()
    types = page.locator("tbody tr td:nth-child(3)").all_text_contents()
    assert types and set(types) == {"MOOC platform"}
