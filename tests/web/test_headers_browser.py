"""The security headers as a browser applies them: the OpenAPI UI still renders under the CSP."""

from __future__ import annotations

import re

from playwright.sync_api import ConsoleMessage, Page, expect


def test_the_openapi_ui_renders_under_the_content_security_policy(page: Page) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    response = page.goto("/schema")
    assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", level=1, name=re.compile("Provider QA Registry"))).to_be_visible()
    expect(page.get_by_text("/api/v1/trust").first).to_be_visible()
    assert not [text for text in console if "Content Security Policy" in text], console


def test_staff_pages_render_without_policy_violations(page: Page) -> None:
    violations: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", keep)
    page.goto("/signin")
    page.get_by_label("E-mail address").fill("operator@registry.example")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto("/staff/users/")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    assert violations == []
