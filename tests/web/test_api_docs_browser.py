"""The interactive API documentation at /schema, used in a real browser as a verifier's developer would."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_the_trust_lookup_is_tried_out_from_the_documentation(page: Page) -> None:
    page.goto("/schema")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1, name="Provider QA Registry: API documentation")).to_be_visible()
    # Swagger UI 4 could not read OpenAPI 3.1 and showed this instead of the operations.
    lookup = page.locator('.opblock-summary-path[data-path="/api/v1/trust"]')
    expect(lookup).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)

    lookup.click()
    operation = page.locator(".opblock.is-open")
    operation.get_by_role("button", name="Try it out").click()
    operation.locator('tr[data-param-name="identifier"] input').fill("did:web:northbridge.example")
    operation.get_by_role("button", name="Execute").click()

    body = operation.locator(".live-responses-table .response-col_description pre").first
    expect(body).to_contain_text(re.compile(r'"status":\s*"trusted"'))
    expect(operation.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
