"""Uploaded documents (self-assessment evidence, QA reports): checked by content, stored by checksum.

The bytes live under var/<area>/<first two hex digits>/<sha256>, so one document uploaded twice is
stored once and a stored file can always be checked against its name.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from pypdf import PdfReader

from registry.errors import ValidationFailed
from registry.settings import Settings

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# An upload request carries the file and a few form fields; the request limit leaves room for them,
# so a file just over the limit still reaches the form and is refused next to its field.
MAX_UPLOAD_REQUEST_BYTES = MAX_DOCUMENT_BYTES + 1024 * 1024
# What an OpenDocument or Word file may unpack to, read from the zip's central directory: a reviewer
# opening a 1 MB file that unpacks to 1 GB is what this stops. Real documents of 20 MB with text,
# tables and images unpack to well under these.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 5000
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODF_TYPES = (
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
)
# Uploaded files are served as downloads that never run as part of the registry's pages: a file opened
# in the browser anyway gets a sandboxed, script-less origin of its own.
DOWNLOAD_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
ACCEPTED = "PDF, OpenDocument (odt, ods, odp) or Word (docx)"


@dataclass(frozen=True)
class CheckedDocument:
    data: bytes
    media_type: str
    filename: str
    sha256: str


def detect_media_type(data: bytes) -> str | None:
    """What the bytes are, whatever the file name says; None for anything not accepted."""
    if data.startswith(b"%PDF-"):
        return PDF if _is_pdf(data) else None
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES or sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
                raise OversizedContainer
            names = {entry.filename for entry in entries}
            if "mimetype" in names:
                # ODF stores its type uncompressed as the first entry; read only a few bytes of it.
                if archive.getinfo("mimetype").file_size > 100:
                    return None
                with archive.open("mimetype") as entry:
                    declared = entry.read(100).decode("ascii", errors="replace").strip()
                return declared if declared in ODF_TYPES else None
            if "[Content_Types].xml" in names and any(name.startswith("word/") for name in names):
                return DOCX
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError):
        return None
    return None


class OversizedContainer(Exception):
    """A zip-based document that would unpack to more than a reader should have to open."""


def _is_pdf(data: bytes) -> bool:
    """A PDF with a readable structure (cross-reference table, trailer, pages), not just its first bytes.

    "%PDF-" followed by HTML or a script is not a PDF, whatever a browser might make of it.
    """
    try:
        return len(PdfReader(io.BytesIO(data), strict=False).pages) > 0
    except Exception:  # noqa: BLE001 - a parser of hostile bytes fails in many ways; each means "not a PDF"
        return False


def check(
    content: BinaryIO | bytes, filename: str, field: str = "file", fallback_name: str = "document"
) -> CheckedDocument:
    """The upload's bytes and type, or a field error saying why it is refused."""
    # Read one byte past the limit so an oversized upload is refused without reading all of it.
    data = content if isinstance(content, bytes) else content.read(MAX_DOCUMENT_BYTES + 1)
    if not data:
        raise ValidationFailed({field: "the file is empty"})
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed({field: f"a file may be at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB"})
    try:
        media_type = detect_media_type(data)
    except OversizedContainer:
        raise ValidationFailed(
            {
                field: f"this document unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB or holds more "
                f"than {MAX_ZIP_ENTRIES} parts; save it again without embedded files, or as PDF"
            }
        ) from None
    if media_type is None:
        raise ValidationFailed({field: f"this is not a {ACCEPTED} document"})
    return CheckedDocument(data, media_type, clean_filename(filename, fallback_name), hashlib.sha256(data).hexdigest())


def clean_filename(filename: str | None, fallback_name: str = "document") -> str:
    """The name's last path part, without control or invisible formatting characters (a CR/LF would end a header)."""
    name = Path((filename or "").replace("\\", "/")).name
    name = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in unicodedata.normalize("NFC", name))
    return " ".join(name.split())[:200] or fallback_name


def content_disposition(kind: str, filename: str) -> str:
    """A Content-Disposition header (RFC 6266) that keeps any name: UTF-8 in filename*, an ASCII stand-in before it."""
    name = clean_filename(filename)
    ascii_name = ""
    for char in unicodedata.normalize("NFKD", name):
        if unicodedata.combining(char):
            continue  # é -> e: the accent goes, the letter stays
        ascii_name += char if " " <= char <= "~" and char not in '"\\%' else "_"
    ascii_name = re.sub(r"_+", "_", ascii_name)
    if not Path(ascii_name).stem.strip("_ "):
        ascii_name = "document" + Path(ascii_name).suffix
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def storage_path(settings: Settings, area: str, sha256: str) -> Path:
    return settings.var_dir / area / sha256[:2] / sha256


def store(settings: Settings, area: str, document: CheckedDocument) -> Path:
    path = storage_path(settings, area, document.sha256)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file under its checksum.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(document.data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read(settings: Settings, area: str, sha256: str) -> bytes:
    """The stored bytes, refused when they no longer match their checksum."""
    data = storage_path(settings, area, sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"stored document {area}/{sha256} is corrupt: its checksum does not match")
    return data
