"""An agency editor, new to the registry, makes a token, submits by machine and imports a CSV in Chromium."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.web.test_browser import sign_in

EXAMPLES = Path(__file__).parents[2] / "examples" / "submissions"


def test_token_then_json_then_csv_upload_then_unchanged(page: Page, live_server: str) -> None:
    sign_in(page, "editor@dac.example")
    page.get_by_role("link", name="API tokens", exact=True).click()
    page.locator('[id="f-name"]').fill("quality database")
    page.locator('[id="f-agency_id"]').select_option(label="DAC: Demo Accreditation Council")
    page.locator('[id="f-expires_on"]').fill((dt.date.today() + dt.timedelta(days=30)).isoformat())
    page.get_by_label("results:submit").check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("created")
    secret = page.locator("#token-secret code").inner_text()
    assert secret.startswith("qareg_")

    answer = httpx.post(
        f"{live_server}/api/v1/submissions/results",
        content=(EXAMPLES / "programme.json").read_bytes(),
        headers={"Authorization": f"Bearer {secret}", "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert [r["submission_status"] for r in answer.json()["reports"]] == ["created", "created"]

    page.get_by_role("link", name="API tokens", exact=True).click()
    expect(page.locator("tbody")).to_contain_text("quality database")
    expect(page.locator("tbody")).not_to_contain_text("never")
    assert secret not in page.content()

    for expected in ("2 created", "2 unchanged"):
        page.get_by_role("link", name="Import results").click()
        page.locator('[id="f-agency_id"]').select_option(label="DAC: Demo Accreditation Council")
        page.locator('[id="f-file"]').set_input_files(str(EXAMPLES / "reports.csv"))
        page.get_by_role("button", name="Import").click()
        expect(page.locator("#import-report")).to_contain_text(expected)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the per-row report (CSV)").click()
    text = Path(download.value.path()).read_text()
    assert text.startswith("row,local_identifier,status,result_id,column,message")
    assert "CSV-2024-01,unchanged" in text
