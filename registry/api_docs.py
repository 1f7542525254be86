"""What the OpenAPI document says about the answers an operation gives besides its success.

Every refusal is an RFC 9457 problem (see registry.web.problem); documenting each one an operation can
give keeps the document true, which the contract test checks by sending generated requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec

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
