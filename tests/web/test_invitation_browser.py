"""Inviting provider staff in a real browser: the link reaches the invited mailbox only."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.web.test_browser import sign_in


def test_staff_invite_a_colleague_who_joins_through_the_e_mailed_link(
    browser: Browser, page: Page, live_server: str
) -> None:
    address = "new.colleague@northbridge.example"
    sign_in(page, "staff@northbridge.example")
    page.get_by_role("link", name="Northbridge University").first.click()
    page.get_by_role("link", name="Invite provider staff").click()
    page.get_by_label("E-mail address").fill(address)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"An invitation is on its way to {address}")).to_be_visible()
    # The sender sees no link to pass on (nor to use himself).
    assert "/invitations/" not in page.locator("main").inner_html()

    # The e-mail, as the operators' outbox shows it (the embedded default delivers nothing).
    operator = browser.new_page(base_url=live_server)
    sign_in(operator, "operator@registry.example")
    operator.goto("/staff/outbox/")
    operator.get_by_role("row", name=re.compile(address)).get_by_role("link").first.click()
    found = re.search(r"/invitations/[A-Za-z0-9_-]+", operator.locator("pre.mail").inner_text())
    assert found is not None
    operator.close()

    invited = browser.new_page(base_url=live_server)
    invited.goto(found.group(0))
    expect(invited.get_by_role("heading", level=1)).to_have_text(
        "Join Northbridge University in the Provider QA Registry"
    )
    invited.get_by_label("Your name").fill("New Colleague")
    invited.locator("#f-password").fill("a-long-enough-password")
    invited.get_by_label("Password again").fill("a-long-enough-password")
    invited.get_by_role("button", name="Create my account").click()
    sign_in(invited, address, "a-long-enough-password")
    expect(invited.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(invited.get_by_role("link", name="Northbridge University").first).to_be_visible()
    invited.close()
