"""The OpenAPI document is true: schemathesis sends generated requests to every operation and, with its default
checks, finds no 5xx, no undocumented status or content type and no response that breaks its schema.

One default check, that a schema-valid request is accepted, is run here with two rules no JSON Schema states:
text may not contain NUL characters, and an identifier must be well-formed in its scheme's own syntax (check
digits, DID methods). A schema-valid request may be refused for these, with a 400 naming only such fields.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as examples
from litestar.testing import TestClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from registry.app import create_app
from registry.request_checks import NUL_MESSAGE
from registry.settings import Settings
from tests.factories import World

ACCEPTED = {401, 403, 404, 409, 429}


def _document() -> dict[str, Any]:
    """The document as served; it depends on the routes, not on the database behind them."""
    with TemporaryDirectory() as folder:
        app = create_app(
            Settings(var_dir=Path(folder), database_url=f"sqlite:///{folder}/registry.db", secret_key="openapi")
        )
        return app.openapi_schema.to_schema()


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # Generated `wait` values would hold each change-feed request up to 30 s; the answer is the same after 1.
    return Settings(
        var_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key",
        base_url="http://registry.test",
        feed_max_wait=1,
    )


def _refused_only_for_unstated_rules(case: Any, problem: dict[str, Any]) -> bool:
    if case.operation.label == "GET /federation/subordinate_events":
        # A well-formed cursor must also have been given out (not beyond the newest event): no schema says so.
        return problem.get("error") == "invalid_request" and str(problem.get("error_description")).startswith(
            "after is "
        )
    errors = problem.get("errors") or []
    identifier_rule = case.operation.label == "GET /api/v1/trust"
    return bool(errors) and all(
        error["detail"] == NUL_MESSAGE or (identifier_rule and error["field"] == "identifier") for error in errors
    )


def _request_kwargs(case: Any) -> dict[str, Any]:
    """The case's request for httpx: cookies as a header (per-request ones are deprecated), raw bodies as content."""
    kwargs = dict(case.as_transport_kwargs(base_url="http://registry.test"))
    cookies = kwargs.pop("cookies", None) or {}
    if cookies:
        headers = dict(kwargs.get("headers") or {})
        sent = "; ".join(f"{name}={value}" for name, value in cookies.items())
        headers["cookie"] = f"{headers['cookie']}; {sent}" if headers.get("cookie") else sent
        kwargs["headers"] = headers
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    return kwargs


@schema.parametrize()
@examples(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_documented_contract(case: Any, client: TestClient, world: World) -> None:
    response = client.request(**_request_kwargs(case))
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    status = response.status_code
    if case.meta.generation.mode.is_positive and not (200 <= status < 400 or status in ACCEPTED):
        assert status == 400, response.text
        assert _refused_only_for_unstated_rules(case, response.json()), response.text
