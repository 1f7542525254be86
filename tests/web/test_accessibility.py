"""axe-core over every page template, for each role, on a desktop and on a phone.

axe-core comes from npm (tests/web/axe/package.json), installed here on first use the way the
OpenID Connect tests install their provider; it is injected into the page, never fetched by it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from tests.web.test_browser import sign_in

AXE_DIR = Path(__file__).parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
REQUIRE_ALL = os.environ.get("REGISTRY_TEST_REQUIRE_ALL") == "1"
PHONE: ViewportSize = {"width": 375, "height": 740}
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            if REQUIRE_ALL:
                pytest.fail("accessibility tests are required here but npm is missing")
            pytest.skip("npm is missing")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, check=True, capture_output=True)
    return AXE_SCRIPT.read_text()


def _ids(live_server: str) -> dict[str, int]:
    """Ids of demo records, found the way a visitor would: through the public API."""
    found = {}
    for key, name in (("eastbury", "Eastbury"), ("westbury", "Westbury"), ("northbridge", "Northbridge")):
        items = httpx.get(f"{live_server}/api/v1/providers", params={"q": name}).json()["items"]
        found[key] = items[0]["id"]
    return found


def _first_link(page: Page, path: str, prefix: str) -> str:
    page.goto(path)
    href = page.locator(f'a[href^="{prefix}"]').first.get_attribute("href")
    assert href, f"no link starting {prefix} on {path}"
    return href


def _audit(page: Page, axe_source: str, path: str) -> list[str]:
    """Serious and critical axe violations on a page, and sideways scrolling on a narrow screen."""
    response = page.goto(path)
    assert response is not None and response.status < 500, path
    page.add_script_tag(content=axe_source)
    result: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']}})"
    )
    problems = [
        f"{path}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]
    viewport = page.viewport_size or {"width": 0}
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    if viewport["width"] <= PHONE["width"]:
        if overflow > viewport["width"]:
            problems.append(f"{path}: scrolls sideways on a phone ({overflow}px wide in {viewport['width']}px)")
        lines = page.evaluate(
            "() => { const nav = document.querySelector('header.site nav');"
            " return nav.getBoundingClientRect().height / parseFloat(getComputedStyle(nav).lineHeight); }"
        )
        if lines > 3.2:
            problems.append(f"{path}: the menu takes {lines:.1f} lines on a phone")
    return problems


def _staff_pages(page: Page, ids: dict[str, int]) -> list[str]:
    p = ids["eastbury"]
    result = _first_link(page, f"/staff/providers/{ids['westbury']}", "/staff/results/").split("/")[3]
    agency = _first_link(page, "/staff/agencies/", "/staff/agencies/").rstrip("/").split("/")[-1]
    pages = [
        "/staff",
        "/staff/providers/?q=university",
        "/staff/providers/new",
        f"/staff/providers/{p}",
        f"/staff/providers/{p}/edit",
        f"/staff/providers/{p}/identifiers",
        f"/staff/providers/{p}/suspend",
        f"/staff/providers/{ids['northbridge']}/merger",
        f"/staff/providers/{p}/results/new",
        f"/staff/results/{result}/edit",
        f"/staff/results/{result}/withdraw",
        f"/staff/results/{result}/revoke",
        f"/staff/results/{result}/reports",
        "/staff/agencies/",
        "/staff/agencies/new",
        "/staff/users/",
        "/staff/users/new",
        "/account/password",
        "/staff/outbox/",
        "/staff/changes/",
        "/staff/audit/",
        "/staff/audit/?since=not-a-date",
        "/staff/audit/?provider_name=university",
        "/staff/calendars/",
        "/staff/imports/",
        "/staff/tokens/",
        "/staff/requests/",
        f"/staff/providers/{p}/invitations",
        f"/staff/providers/{p}/self-assessment",
    ]
    if agency.isdigit():
        pages.append(f"/staff/agencies/{agency}")
    page.goto("/staff/outbox/")
    messages = page.locator('a[href^="/staff/outbox/"]')
    if messages.count():
        pages.append(str(messages.first.get_attribute("href")))
    return pages


PUBLIC = [
    "/",
    "/providers/",
    "/providers/?q=universite&type=public+HEI&page=99",
    "/signin",
    "/request-entry",
    "/no-such-page",
    "/invitations/not-a-real-token",
]


@pytest.mark.parametrize("viewport", [PHONE, None], ids=["phone", "desktop"])
def test_no_serious_accessibility_problem_on_any_page_for_any_role(
    browser: Browser, live_server: str, axe_source: str, viewport: ViewportSize | None
) -> None:
    ids = _ids(live_server)
    problems: list[str] = []
    visits: dict[str, list[str]] = {}
    # axe-core is injected as an inline script, which the pages' CSP (rightly) refuses.
    options: dict[str, Any] = {"base_url": live_server, "bypass_csp": True}
    if viewport:
        options["viewport"] = viewport
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(10000)
    for path in [*PUBLIC, f"/providers/{ids['eastbury']}", f"/providers/{ids['westbury']}"]:
        problems += _audit(page, axe_source, path)
    visits["public"] = PUBLIC
    context.close()
    for role, email in (
        ("operator", "operator@registry.example"),
        ("editor", "editor@dac.example"),
        ("reviewer", "reviewer@dac.example"),
        ("provider staff", "staff@northbridge.example"),
    ):
        context = browser.new_context(**options)
        page = context.new_page()
        page.set_default_timeout(10000)
        sign_in(page, email)
        if role == "operator":
            paths = _staff_pages(page, ids)
        elif role == "provider staff":
            own = ids["northbridge"]
            paths = [
                "/staff",
                f"/staff/providers/{own}",
                f"/staff/providers/{own}/self-assessment",
                "/staff/calendars/",
            ]
            draft = _first_link(page, f"/staff/providers/{own}/self-assessment", "/staff/self-assessments/")
            paths.append(draft)
            paths.append("/staff/agencies/")  # the 403 page
        else:
            paths = ["/staff", "/staff/providers/?q=a", f"/staff/providers/{ids['eastbury']}"]
        for path in paths:
            problems += _audit(page, axe_source, path)
        visits[role] = paths
        context.close()
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)
    assert sum(len(v) for v in visits.values()) > 40


def test_search_labels_stay_with_their_fields_on_a_phone(browser: Browser, live_server: str) -> None:
    context = browser.new_context(base_url=live_server, viewport=PHONE)
    page = context.new_page()
    for path in ("/providers/", "/staff/providers/"):
        if path.startswith("/staff"):
            sign_in(page, "reviewer@dac.example")
        page.goto(path)
        for label in ("Name or identifier", "Country", "Type", "Verdict"):
            label_box = page.locator("form.search label", has_text=label).bounding_box()
            field_box = page.get_by_label(label, exact=True).bounding_box()
            assert label_box and field_box
            gap = field_box["y"] - (label_box["y"] + label_box["height"])
            # Directly below its label, and left-aligned with it.
            assert 0 <= gap <= 10, (path, label, gap)
            assert abs(field_box["x"] - label_box["x"]) < 2, (path, label)
    context.close()
