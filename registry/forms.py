"""HTML form plumbing: reading url-encoded fields and uploads, and re-rendering a form with its errors."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from registry.documents import MAX_DOCUMENT_BYTES
from registry.errors import RegistryError, ValidationFailed
from registry.request_checks import NUL, NUL_MESSAGE

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def text(data: dict[str, Any], key: str) -> str:
    """One field's value; a field sent twice counts by its last value, a blank one is ''."""
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


def values(data: dict[str, Any], key: str) -> list[str]:
    """Every value of a repeated field (checkboxes, multiple selects)."""
    value = data.get(key, [])
    items = value if isinstance(value, list) else [value]
    return [str(item).strip() for item in items if str(item).strip()]


def lines(data: dict[str, Any], key: str) -> list[str]:
    return [line.strip() for line in text(data, key).splitlines() if line.strip()]


def codes(data: dict[str, Any], key: str) -> list[str]:
    """A comma- or space-separated list, e.g. ISCED-F fields or country codes."""
    return [part for part in text(data, key).replace(",", " ").split() if part]


def form_page(
    template: str, context: dict[str, Any], data: dict[str, Any], error: RegistryError | None = None
) -> Template:
    """The form again, with what was typed and each message next to its field."""
    errors = dict(error.errors) if error else {}
    if error and not errors:
        errors["form"] = error.detail
    # A field with a NUL character keeps the form from being saved (registry/request_checks.py), whichever
    # error came first: its message is shown too, and the NUL is left out of what is shown again.
    shown: dict[str, Any] = {}
    for key, value in data.items():
        items = [str(item) for item in value] if isinstance(value, list) else [str(value)]
        name = key.replace(NUL, "")
        if NUL in key or any(NUL in item for item in items):
            errors.setdefault(name, NUL_MESSAGE)
        clean = [item.replace(NUL, "") for item in items]
        shown[name] = clean if isinstance(value, list) else clean[0]
    return Template(
        template,
        context={**context, "values": shown, "errors": errors},
        # The refusal's own status: 400 for invalid input, 409 for a stale version.
        status_code=error.status_code if error and error.status_code < 500 else 400 if error else 200,
    )


# Names that read better than the form field's key in an error summary.
FIELD_LABELS = {
    "related_provider_id": "provider",
    "provider_id": "provider",
    "other_providers": "other providers",
    "agency_id": "agency",
    "valid_from": "valid from",
    "valid_to": "valid to",
    "suspended_from": "suspended from",
    "suspended_to": "suspended until",
    "country": "country",
    "provider_type": "type",
    "limit_eqf_levels": "EQF levels",
    "limit_fields": "ISCED-F fields",
    "limit_jurisdictions": "jurisdictions",
    "founded_on": "founding date",
    "closed_on": "closure date",
}
_STANDARD_KEY = re.compile(r"^(\d\.\d{1,2})\.([a-z_]+)(?:\[(\d+)\])?$")


def field_label(key: str) -> str:
    """A form error's key as people read it: "1.9.rating" -> "Standard 1.9, rating"."""
    standard = _STANDARD_KEY.match(key)
    if standard:
        code, part, index = standard.groups()
        words = part.replace("_", " ")
        if index is not None:
            words = f"{words.rstrip('s')} {int(index) + 1}"
        return f"Standard {code}, {words}"
    if key in FIELD_LABELS:
        return FIELD_LABELS[key]
    return key.replace("_", " ")


def see_other(path: str) -> Redirect:
    """After a successful POST, send the browser to a page it may reload safely."""
    return Redirect(path, status_code=303)


# A form with a file field (enctype="multipart/form-data").
MultipartData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def uploaded_file(data: dict[str, Any], key: str = "file") -> tuple[str, bytes]:
    """The uploaded file's name and bytes, read one byte past the size limit so oversize is detected."""
    upload = data.get(key)
    if not isinstance(upload, UploadFile):
        raise ValidationFailed({key: "choose a file to upload"})
    return upload.filename, upload.file.read(MAX_DOCUMENT_BYTES + 1)
