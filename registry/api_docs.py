"""What the OpenAPI document says about the answers an operation gives besides its success.

Every refusal is an RFC 9457 problem (see registry.web.problem); documenting each one an operation can
give keeps the document true, which the contract test checks by sending generated requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIResponse, Operation

from registry.web import PROBLEM_JSON


@dataclass
class FieldProblem:
    field: str
    detail: str


@dataclass
class Problem:
    """An RFC 9457 problem: what went wrong, and for invalid input what is wrong with each field."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None


# Text with a character str.strip() keeps: JSON Schema's \s (ECMA-262) lacks U+001C-U+001F and U+0085.
NOT_BLANK_PATTERN = r"[^\s\x1c-\x1f\x85]"

WHY = {
    400: "Invalid input: `errors` names each field and what is wrong with it",
    401: "No valid API token: send `Authorization: Bearer <token>` (missing, unknown, expired or revoked)",
    403: "The API token lacks the scope, or acts for another agency",
    404: "No such resource",
    413: "The request body is larger than this operation accepts",
    503: "The database cannot be reached or did not answer in time; retry after the `Retry-After` seconds",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem answers for these statuses; 503 always, as every operation reads the database."""
    return {
        status: ResponseSpec(
            data_container=Problem, media_type=PROBLEM_JSON, description=WHY[status], generate_examples=False
        )
        for status in sorted({*statuses, 503})
    }


@dataclass
class FederationErrorResponse:
    """An OpenID Federation error response: an OAuth-style error code and a human-readable description."""

    error: str
    error_description: str


FEDERATION_WHY = {
    400: (
        "`invalid_request`: a parameter is missing or malformed (OpenID Federation error). "
        "Text with a NUL character is refused before the endpoint runs, as an RFC 9457 problem."
    ),
    404: (
        "`not_found`: the identifier names no current subordinate, or `invalid_trust_anchor` (OpenID Federation error)"
    ),
}


def federation_error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenID Federation error answers (JSON `error`, `error_description`), and the 503 problem of every operation."""
    return {
        **problem_responses(),
        **{
            status: ResponseSpec(
                data_container=FederationErrorResponse,
                media_type="application/json",
                description=FEDERATION_WHY[status],
                generate_examples=False,
            )
            for status in statuses
        },
    }


def signed_response(media_type: str, description: str) -> dict[int, ResponseSpec]:
    """A 200 whose body is a compact JWS of this media type, not JSON."""
    return {
        200: ResponseSpec(data_container=str, media_type=media_type, description=description, generate_examples=False)
    }


@dataclass
class FederationOperation(Operation):
    """An OpenID Federation operation: its 400 is a federation error, or the problem every NUL refusal is.

    The NUL check runs before any handler (registry.request_checks), so a 400 may come in either shape;
    the 503 response carries the problem schema to reuse.
    """

    def __post_init__(self) -> None:
        refused = self.responses.get("400") if self.responses else None
        unavailable = self.responses.get("503") if self.responses else None
        if (
            isinstance(refused, OpenAPIResponse)
            and isinstance(unavailable, OpenAPIResponse)
            and refused.content is not None
            and unavailable.content is not None
        ):
            refused.content[PROBLEM_JSON] = unavailable.content[PROBLEM_JSON]
