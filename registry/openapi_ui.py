"""The interactive API documentation at /schema: Swagger UI 5 (it reads OpenAPI 3.1), served from an installed package.

The page loads only scripts served by the registry itself and has no inline script or style, so the
site-wide Content-Security-Policy covers it without an exception.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import swagger_ui
from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

ASSETS_PATH = "/static/swagger"


def swagger_ui_assets() -> Path:
    """Swagger UI's files as the swagger-ui-py package ships them."""
    return Path(swagger_ui.__file__).parent / "static"


class ApiDocsPage(OpenAPIRenderPlugin):
    """Swagger UI on a page of the registry's own: a language, a main landmark and a first-level heading."""

    def __init__(self, *, title: str, path: str = "/") -> None:
        super().__init__(path=path)
        self.title = title

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(self.title)
        schema_url = escape(self.get_openapi_json_route(request))
        return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}: API documentation</title>
  <link rel="icon" type="image/svg+xml" href="/static/favicon.svg">
  <link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
  <link rel="stylesheet" href="/static/api-docs.css">
</head>
<body>
  <header class="api-docs"><a href="/">{title}</a></header>
  <main id="main">
    <h1>{title}: API documentation</h1>
    <p>Try the API here: open an operation, choose "Try it out", and execute it against this registry.
    The OpenAPI document itself is at <a href="{schema_url}">{schema_url}</a>.</p>
    <div id="swagger-ui" data-openapi-url="{schema_url}"></div>
  </main>
  <script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
""".encode()
