"""All configuration, read once from REGISTRY_* environment variables."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class Settings:
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Trust policy options (DESIGN.md §2).
    require_eqar_registered: bool = True
    require_internal_qa_years: int | None = None
    # Verdict caching and signing.
    verdict_max_age: int = 300
    verdict_lifetime: int = 86400
    debug: bool = False
    # Web sign-in: failed attempts before an account locks, and for how long.
    login_lock_attempts: int = 5
    login_lock_minutes: int = 15
    session_max_age: int = 8 * 3600
    # OpenID Connect sign-in; off unless an issuer is set.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        var_dir = Path(env.get("REGISTRY_VAR_DIR", str(PROJECT_ROOT / "var"))).resolve()
        database_url = env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{var_dir / 'registry.db'}"
        secret_key = env.get("REGISTRY_SECRET_KEY") or ""
        internal_qa = env.get("REGISTRY_REQUIRE_INTERNAL_QA_YEARS", "").strip()
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            secret_key=secret_key,
            base_url=env.get("REGISTRY_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            host=env.get("REGISTRY_HOST", "127.0.0.1"),
            port=int(env.get("REGISTRY_PORT", "8000")),
            workers=int(env.get("REGISTRY_WORKERS", "1")),
            require_eqar_registered=_bool(env.get("REGISTRY_REQUIRE_EQAR_REGISTERED", "true")),
            require_internal_qa_years=int(internal_qa) if internal_qa else None,
            verdict_max_age=int(env.get("REGISTRY_VERDICT_MAX_AGE", "300")),
            verdict_lifetime=int(env.get("REGISTRY_VERDICT_LIFETIME", "86400")),
            debug=_bool(env.get("REGISTRY_DEBUG", "false")),
            login_lock_attempts=int(env.get("REGISTRY_LOGIN_LOCK_ATTEMPTS", "5")),
            login_lock_minutes=int(env.get("REGISTRY_LOGIN_LOCK_MINUTES", "15")),
            session_max_age=int(env.get("REGISTRY_SESSION_MAX_AGE", str(8 * 3600))),
            oidc_issuer=env.get("REGISTRY_OIDC_ISSUER", "").rstrip("/"),
            oidc_client_id=env.get("REGISTRY_OIDC_CLIENT_ID", ""),
            oidc_client_secret=env.get("REGISTRY_OIDC_CLIENT_SECRET", ""),
        )

    def resolved_secret_key(self) -> str:
        """The configured key; the embedded default keeps a generated one under var/."""
        if self.secret_key:
            return self.secret_key
        if not self.is_sqlite:
            raise RuntimeError("REGISTRY_SECRET_KEY must be set when running on PostgreSQL")
        path = self.var_dir / "secret_key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
