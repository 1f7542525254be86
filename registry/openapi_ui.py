"""The OpenAPI UI page without inline script or style, so the site-wide CSP needs no exception."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin


class SwaggerPage(SwaggerRenderPlugin):
    """Swagger UI from the installed bundle, started by a script file that fetches /schema/openapi.json."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema["info"]["title"]).replace("&", "&amp;").replace("<", "&lt;")
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  {self.favicon}
  <link rel="stylesheet" href="{self.css_url}">
  <link rel="stylesheet" href="/static/swagger-page.css">
  <script src="{self.js_url}"></script>
  <script src="{self.standalone_preset_js_url}"></script>
</head>
<body>
  <div id="swagger-container"></div>
  <script src="/static/swagger-init.js"></script>
</body>
</html>""".encode()
