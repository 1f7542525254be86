"""How `registry serve` runs the ASGI app: granian (Rust HTTP/1.1 and HTTP/2, uvloop), N worker processes.

Measured at 100,000 providers on the lookup (bench/lookup.py --stacks), granian with uvloop answered more
lookups per second than uvicorn with httptools and uvloop on one worker, with a lower p99 (README, Serving).
"""

from __future__ import annotations

import copy
import multiprocessing
import os
from typing import Any

APP = "registry.asgi:served"


def behind_proxies(app: Any, trusted: str) -> Any:
    """The app, taking the client address and scheme from X-Forwarded-For/-Proto sent by a trusted peer.

    trusted: comma-separated addresses, networks (10.0.0.0/8) or `*`; empty trusts nobody.
    """
    from granian.utils.proxies import wrap_asgi_with_proxy_headers

    hosts = [host.strip() for host in trusted.split(",") if host.strip()]
    return wrap_asgi_with_proxy_headers(app, hosts) if hosts else app


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, or a container's CPU set), at least 1."""
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if process_cpu_count is not None:
        return process_cpu_count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def log_config() -> dict[str, Any]:
    """Granian's own logging, plus the registry's INFO messages (scheduler leadership, job runs) with their pid."""
    from granian.log import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["registry"] = {
        "()": "logging.Formatter",
        "fmt": "[%(levelname)s] [pid %(process)d] %(name)s: %(message)s",
    }
    config["handlers"]["registry"] = {
        "formatter": "registry",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["registry"] = {"handlers": ["registry"], "level": "INFO", "propagate": False}
    return config


def serve(
    host: str, port: int, workers: int, shutdown_seconds: int = 35, target: str = APP, factory: bool = False
) -> None:
    """Serve target until SIGINT or SIGTERM; every worker runs the app's start-up and shut-down (lifespan)."""
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    # Each worker imports the app afresh, as uvicorn's workers do: nothing the parent opened (database
    # connections, the settings it read) is shared with a forked child.
    multiprocessing.set_start_method("spawn", force=True)
    Server(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        log_dictconfig=log_config(),
        log_access=False,
        # A worker that dies (killed, out of memory) is replaced; the scheduler lock passes to a live one.
        respawn_failed_workers=True,
        # A stop waits this long for answers in flight (a change-feed long poll among them), then ends the workers.
        workers_kill_timeout=shutdown_seconds,
        factory=factory,
    ).serve()
