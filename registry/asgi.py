"""ASGI entry points: `registry.asgi:app` for any ASGI server, `registry.asgi:served` for `registry serve`."""

from registry.app import create_app
from registry.serving import behind_proxies
from registry.settings import get_settings

app = create_app()
# What `registry serve` runs: as uvicorn does by default, the client address and scheme come from
# X-Forwarded-For and X-Forwarded-Proto when the peer is a trusted proxy (REGISTRY_FORWARDED_ALLOW_IPS).
served = behind_proxies(app, get_settings().forwarded_allow_ips)
