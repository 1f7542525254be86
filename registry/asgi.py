"""ASGI entry point for uvicorn workers: `registry.asgi:app`."""

from registry.app import create_app

app = create_app()
