"""Writing a self-assessment in a real browser: nothing typed is lost, every save is confirmed."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.factories import pdf_document
from tests.web.test_browser import open_provider, sign_in

PDF = pdf_document()


def field(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[id="f-{name}"]')


def invite_staff(browser: Browser, page: Page, live_server: str, provider: str, email: str) -> Page:
    """An operator invites a new staff member of the provider, who sets a password and signs in."""
    sign_in(page, "operator@registry.example")
    open_provider(page, provider)
    page.get_by_role("link", name="Invite provider staff").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send invitation").click()
    # The link goes only to the invited address; operators read it in the outbox.
    page.goto("/staff/outbox/")
    page.get_by_role("row", name=re.compile(re.escape(email))).get_by_role("link").first.click()
    link = re.search(r"/invitations/[A-Za-z0-9_-]+", page.locator("pre.mail").inner_text())
    assert link is not None
    staff = browser.new_page(base_url=live_server)
    staff.goto(link.group(0))
    field(staff, "display_name").fill("Lee Lakeshore")
    field(staff, "password").fill("a long enough password 1")
    field(staff, "repeat_password").fill("a long enough password 1")
    staff.get_by_role("button", name="Create my account").click()
    sign_in(staff, email, "a long enough password 1")
    expect(staff.get_by_role("heading", name="Dashboard")).to_be_visible()
    return staff


def test_answers_survive_uploads_and_refused_submits(browser: Browser, page: Page, live_server: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    staff = invite_staff(browser, page, live_server, "Lakeshore Business School", "qa@lakeshore.example")
    staff.get_by_role("link", name="internal QA self-assessment").click()
    staff.get_by_role("button", name="Start the self-assessment").click()
    expect(staff.get_by_role("status")).to_contain_text("Version 1 started")

    # The boxes use the page's width, not a 200-pixel default.
    box = field(staff, "1.1.narrative").bounding_box()
    assert box is not None and box["width"] > 500, box

    # Typed but not saved, then a wrong file: the file is refused next to its field, the text stays.
    field(staff, "1.1.narrative").fill("Our policy is public and reviewed yearly.")
    wrong = tmp_path / "notes.txt"
    wrong.write_bytes(b"plain text is not accepted")
    field(staff, "file").set_input_files(str(wrong))
    staff.get_by_role("button", name="Upload").click()
    expect(staff.locator('[id="e-file"]')).to_be_visible()
    expect(field(staff, "1.1.narrative")).to_have_value("Our policy is public and reviewed yearly.")

    # Typed, then a good file: uploaded, and the answers are saved with it.
    field(staff, "1.2.narrative").fill("Programmes are designed with employers.")
    good = tmp_path / "policy.pdf"
    good.write_bytes(PDF)
    field(staff, "file").set_input_files(str(good))
    staff.get_by_role("button", name="Upload").click()
    expect(staff.get_by_role("status")).to_contain_text(
        "Evidence file policy.pdf uploaded. Your answers were saved too."
    )
    staff.reload()
    expect(field(staff, "1.1.narrative")).to_have_value("Our policy is public and reviewed yearly.")
    expect(field(staff, "1.2.narrative")).to_have_value("Programmes are designed with employers.")

    # A bad evidence link is shown next to its box.
    field(staff, "1.10.evidence_links").fill("https://lakeshore.example/qa\nnot a link")
    staff.get_by_role("button", name="Save draft").click()
    expect(staff.locator('[id="e-1.10.evidence_links"]')).to_contain_text("line 2")
    field(staff, "1.10.evidence_links").fill("https://lakeshore.example/qa")

    # An incomplete submit is refused, but what was typed is saved.
    field(staff, "1.3.narrative").fill("Students are assessed against published criteria.")
    staff.get_by_role("button", name="Submit to the agency").click()
    expect(staff.get_by_role("alert")).to_contain_text("Please correct the form")
    expect(staff.get_by_text("Your answers are saved in the draft; it was not submitted.")).to_be_visible()
    staff.goto(staff.url)
    expect(field(staff, "1.3.narrative")).to_have_value("Students are assessed against published criteria.")
    expect(staff.get_by_role("heading", level=1)).to_contain_text("(draft)")
    staff.close()
