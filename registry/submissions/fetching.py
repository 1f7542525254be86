"""Report files a submission names by URL (`report_files[].original_location`), fetched before any transaction.

The fetch is the identifier proofs' one (registry/providers/fetch.py): https only, every address each host
resolves to checked (no loopback, private, link-local or NAT64/6to4/Teredo forms of them unless the
deployment allows private fetches), the connection made to the checked address, one deadline per file
covering DNS, connect, TLS, headers and body, at most MAX_REDIRECTS redirects (to other hosts too, each
checked anew), and at most the documented upload limit. Fetched bodies wait in a temporary directory, so
memory holds one file at a time; what went wrong is kept as a message for the report's field error.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from registry import documents
from registry.providers import fetch
from registry.settings import Settings

MAX_REDIRECTS = 5
# Distinct URLs fetched for one upload; more are refused, each on its own report, before anything is fetched.
MAX_FETCHES_PER_UPLOAD = 100
# Bytes fetched for one upload (they wait on disk until the import is done).
MAX_BYTES_PER_UPLOAD = 10 * documents.MAX_DOCUMENT_BYTES
USER_AGENT = "qa-registry-report-fetch"


@dataclass(frozen=True)
class Fetched:
    """A fetched report file (its body in `path`) or why it could not be fetched (`error`)."""

    url: str
    path: Path | None = None
    error: str | None = None

    def read(self) -> bytes:
        assert self.path is not None
        return self.path.read_bytes()

    @property
    def filename(self) -> str:
        """The URL's last path segment (e.g. report.pdf), for the stored file's name."""
        return documents.clean_filename(unquote(urlsplit(self.url).path.rsplit("/", 1)[-1]), "report")


def locations(report: Any) -> list[str]:
    """The URLs of the report files this report names without sending them."""
    if not isinstance(report, dict) or not isinstance(report.get("report_files"), list):
        return []
    found = []
    for item in report["report_files"]:
        if isinstance(item, dict) and not item.get("file"):
            location = str(item.get("original_location") or "").strip()
            if location:
                found.append(location)
    return found


class ReportFetches:
    """The report files of one upload, fetched one after another within an overall budget.

    Use as a context manager: the temporary directory goes when the upload is done.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._found: dict[str, Fetched] = {}
        self._bytes = 0
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> ReportFetches:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    def fetch_all(self, urls: Iterable[str]) -> None:
        """Fetch each distinct URL once; a failure is kept as its message, never raised."""
        pending = [url for url in dict.fromkeys(urls) if url not in self._found]
        budget_ends = time.monotonic() + self.settings.report_fetch_budget_seconds
        for count, url in enumerate(pending):
            if count >= MAX_FETCHES_PER_UPLOAD:
                self._found[url] = Fetched(
                    url,
                    error=f"not fetched: one upload may name at most {MAX_FETCHES_PER_UPLOAD} report files by URL; "
                    "send the rest in another upload",
                )
                continue
            if self._bytes >= MAX_BYTES_PER_UPLOAD:
                self._found[url] = Fetched(
                    url,
                    error=f"not fetched: this upload's report files reached {MAX_BYTES_PER_UPLOAD // 2**20} MB; "
                    "send the rest in another upload",
                )
                continue
            left = budget_ends - time.monotonic()
            if left <= 0.1:
                self._found[url] = Fetched(
                    url,
                    error=f"not fetched: this upload's {self.settings.report_fetch_budget_seconds:g} seconds for "
                    "fetching report files were spent; send the rest in another upload",
                )
                continue
            self._found[url] = self._fetch(url, round(min(self.settings.report_fetch_seconds, left), 1))

    def _fetch(self, url: str, seconds: float) -> Fetched:
        try:
            body = fetch.fetch(
                url,
                self.settings,
                max_bytes=min(documents.MAX_DOCUMENT_BYTES, MAX_BYTES_PER_UPLOAD - self._bytes),
                other_hosts=True,
                seconds=seconds,
                max_redirects=MAX_REDIRECTS,
                user_agent=USER_AGENT,
            )
        except fetch.FetchFailed as error:
            return Fetched(url, error=f"the report file could not be fetched: {error}")
        except ValueError as error:  # e.g. an address that is not an IP address nor a name
            return Fetched(url, error=f"the report file could not be fetched: {error}")
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(prefix="report-fetch-")
        path = Path(self._directory.name) / hashlib.sha256(url.encode()).hexdigest()
        path.write_bytes(body)
        self._bytes += len(body)
        return Fetched(url, path=path)

    def get(self, url: str) -> Fetched:
        return self._found.get(url) or Fetched(url, error="the report file was not fetched")
