"""The CSV import page in Chromium: a progress bar while the file goes up and its rows are imported, then the
result and its per-row report; without JavaScript the same form still imports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.web.test_browser import sign_in

EXAMPLES = Path(__file__).parents[2] / "examples" / "submissions"
# What import.js shows, sampled while it runs (a script of the test's own, added before the page's).
WATCH_PROGRESS = """
window.__seen = [];
setInterval(function () {
  var stage = document.getElementById("import-stage");
  var bar = document.getElementById("import-bar");
  var box = document.getElementById("import-progress");
  if (stage && bar && box && !box.hidden) {
    var entry = stage.textContent + "|" + (bar.hasAttribute("value") ? bar.value + "/" + bar.max : "working");
    if (window.__seen[window.__seen.length - 1] !== entry) window.__seen.push(entry);
  }
}, 20);
"""


def bulk_csv(prefix: str, rows: int) -> bytes:
    """The example file's first report, `rows` times under new local identifiers, and one row that breaks."""
    header, first = (EXAMPLES / "reports.csv").read_text().splitlines()[:2]
    lines = [header] + [first.replace("CSV-2024-01", f"{prefix}-{n}") for n in range(rows)]
    lines.append(first.replace("CSV-2024-01", f"{prefix}-broken").replace("2024-03-14", "14.03.2024"))
    return ("\n".join(lines) + "\n").encode()


def upload(page: Page, name: str, content: bytes) -> None:
    page.get_by_role("link", name="Import results").click()
    page.locator('[id="f-agency_id"]').select_option(label="DAC: Demo Accreditation Council")
    page.locator('[id="f-file"]').set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
    page.get_by_role("button", name="Import").click()


# Enough rows that importing them outlasts several of the page's polls (every 400 ms) on a fast machine:
# the bulk import takes a few hundred rows a second.
ROWS = 2000


def test_the_bar_shows_the_upload_and_the_rows_then_the_result_and_its_report(page: Page) -> None:
    page.add_init_script(WATCH_PROGRESS)
    sign_in(page, "editor@dac.example")
    upload(page, "bulk.csv", bulk_csv("BAR", ROWS))
    expect(page.locator("#import-progress")).to_be_visible()
    expect(page.locator("#import-report")).to_contain_text(f"{ROWS} created, 1 rejected", timeout=180_000)
    seen: list[str] = page.evaluate("window.__seen")
    assert any(entry.startswith("Uploading") for entry in seen), seen
    rows = [entry for entry in seen if entry.startswith("Importing rows:")]
    assert rows, seen
    # The bar counts rows as the server imports them: some done, not yet all.
    done, total = (float(part) for part in rows[0].split("|")[1].split("/"))
    assert 0 < done < total and total >= ROWS, rows
    # The answer replaced the page's main part; the bar is gone with the old form, the new form is ready.
    expect(page.locator("#import-progress")).to_be_hidden()
    expect(page).to_have_title("Import results · Provider QA Registry")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the per-row report (CSV)").click()
    lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    rejected = [line for line in lines if line[2] == "rejected"]
    # The header is row 1, the good rows 2 to ROWS + 1, the broken one last.
    assert rejected == [[str(ROWS + 2), "BAR-broken", "rejected", "", "valid_from", rejected[0][5]]]
    assert "does not match the date format" in rejected[0][5]


def test_without_javascript_the_form_still_imports(browser: Browser, live_server: str) -> None:
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10000)
    try:
        sign_in(page, "editor@dac.example")
        upload(page, "plain.csv", bulk_csv("PLAIN", 2))
        expect(page.locator("#import-report")).to_contain_text("2 created, 1 rejected")
        expect(page.locator("#import-progress")).to_be_hidden()
    finally:
        context.close()
