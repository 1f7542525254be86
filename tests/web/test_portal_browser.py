"""The provider portal in a real browser: a demo provider's self-assessment from draft to accepted."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.providers.test_proofs import ed25519_did_key, sign
from tests.web.test_browser import sign_in


def internal_qa(live_server: str) -> dict[str, object]:
    answer = httpx.get(f"{live_server}/api/v1/trust", params={"identifier": "did:web:northbridge.example"}).json()
    return dict(answer["internal_qa"])


def field(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[id="f-{name}"]')


def test_a_self_assessment_is_submitted_returned_resubmitted_and_accepted(
    browser: Browser, page: Page, live_server: str
) -> None:
    accepted_before = internal_qa(live_server)["accepted_at"]

    # The demo provider finishes its draft (1.9 and 1.10 are still open) and submits it.
    sign_in(page, "staff@northbridge.example")
    page.get_by_role("link", name="internal QA self-assessment").click()
    page.get_by_role("link", name="Version 2").click()
    page.get_by_role("button", name="Submit to the agency").click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct the form")
    expect(page.locator('[id="e-1.9.rating"]')).to_contain_text("rate standard 1.9")
    for code in ("1.9", "1.10"):
        field(page, f"{code}.rating").select_option("compliant")
        field(page, f"{code}.narrative").fill(f"How we meet {code}, in the browser test.")
    page.get_by_role("button", name="Submit to the agency").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("(submitted)")
    # Until the new version is accepted, the earlier accepted one still stands.
    assert internal_qa(live_server)["accepted_at"] == accepted_before

    expect(page.get_by_role("status")).to_contain_text("submitted to the agency")

    # The agency's reviewer finds it in the waiting list and returns it with a comment on one standard.
    reviewer = browser.new_page(base_url=live_server)
    sign_in(reviewer, "reviewer@dac.example")
    reviewer.get_by_role("link", name="All self-assessments waiting for review").click()
    reviewer.get_by_role("link", name=re.compile("Review version .* of Northbridge University")).click()
    field(reviewer, "1.9.comment").fill("Add the programme review calendar.")
    reviewer.get_by_role("button", name="Return with comments").click()
    expect(reviewer.get_by_role("heading", level=1)).to_contain_text("(returned)")
    expect(reviewer.get_by_role("status")).to_contain_text("returned with comments")

    # The provider sees it on the dashboard, reads the comment and starts a new version from the returned page.
    page.goto("/staff")
    expect(page.get_by_text(re.compile("The agency returned version .* with comments"))).to_be_visible()
    page.get_by_role("link", name="Read the comments and start a new version").click()
    expect(page.get_by_text("Agency: Add the programme review calendar.")).to_be_visible()
    page.get_by_role("button", name="Start a new version").click()
    # The new draft shows what the agency asked for.
    expect(page.get_by_role("heading", name=re.compile("What the agency asked for"))).to_be_visible()
    expect(page.get_by_text("1.9: Add the programme review calendar.")).to_be_visible()
    field(page, "1.9.narrative").fill("Programmes are reviewed every five years; the calendar is attached.")
    page.get_by_role("button", name="Submit to the agency").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("(submitted)")

    # The reviewer accepts it after a confirmation, and the verdict's internal QA changes at once.
    reviewer.goto("/staff")
    reviewer.get_by_role("link", name="Northbridge University").first.click()
    reviewer.get_by_role("button", name="Accept").click()
    expect(reviewer.get_by_role("heading", level=1)).to_contain_text("Accept version")
    assert internal_qa(live_server)["accepted_at"] == accepted_before
    reviewer.get_by_role("button", name=re.compile("Yes, accept version")).click()
    expect(reviewer.get_by_role("heading", level=1)).to_contain_text("(accepted)")
    after = internal_qa(live_server)
    assert after["status"] == "accepted"
    assert after["accepted_at"] != accepted_before
    reviewer.close()


def test_provider_staff_prove_a_did_key_and_verifiers_then_resolve_it(page: Page, live_server: str) -> None:
    key, did = ed25519_did_key()

    def status() -> str:
        return str(httpx.get(f"{live_server}/api/v1/trust", params={"identifier": did}).json()["status"])

    sign_in(page, "staff@northbridge.example")
    page.get_by_role("link", name="Northbridge University").first.click()
    page.get_by_role("link", name="Add an identifier").click()
    page.get_by_label("Scheme").select_option("did")
    page.locator("#f-value").fill(did)
    page.get_by_role("button", name="Add identifier").click()
    assert status() == "unknown"

    page.get_by_role("link", name="Prove it").click()
    page.get_by_role("button", name="Get a challenge").click()
    challenge = page.locator("pre").inner_text().strip()
    page.get_by_label("Signed challenge (compact JWS)").fill(sign(challenge, key))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Northbridge University")
    assert status() == "trusted"


def test_an_ip_address_and_an_unreachable_domain_are_explained_next_to_the_form(page: Page, live_server: str) -> None:
    sign_in(page, "staff@northbridge.example")
    page.get_by_role("link", name="Northbridge University").first.click()
    page.get_by_role("link", name="Add an identifier").click()
    page.get_by_label("Scheme").select_option("domain")
    page.locator("#f-value").fill("127.0.0.1")
    page.get_by_role("button", name="Add identifier").click()
    expect(page.locator("#e-value")).to_contain_text("an IP address is not a domain name")

    page.locator("#f-value").fill("proof-check.invalid")
    page.get_by_role("button", name="Add identifier").click()
    page.get_by_role("link", name="Prove it").last.click()
    page.get_by_role("button", name="Get a challenge").click()
    page.get_by_role("button", name="Check now").click()
    expect(page.locator("#e-proof")).to_contain_text("proof-check.invalid does not resolve to an address")
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("Error")
