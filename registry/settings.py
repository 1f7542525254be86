"""All configuration, read once from REGISTRY_* environment variables."""

from __future__ import annotations

import math
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


def _offsets(value: str) -> tuple[int, ...]:
    """Reminder offsets in days before a deadline, largest first, e.g. "180,90,30,7"."""
    days = {int(part) for part in value.split(",") if part.strip()}
    if any(day <= 0 for day in days):
        raise ValueError(f"reminder offsets are positive numbers of days: {value!r}")
    return tuple(sorted(days, reverse=True))


def _positive(value: str, name: str) -> float:
    number = float(value)
    if not (number > 0 and math.isfinite(number)):
        raise ValueError(f"REGISTRY_{name} must be a positive number: {value!r}")
    return number


@dataclass(frozen=True)
class Settings:
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    # Peers whose X-Forwarded-For / X-Forwarded-Proto `registry serve` believes (a reverse proxy in front).
    forwarded_allow_ips: str = "127.0.0.1"
    # Worker processes of `registry serve`; 0: not set, the default for the database (serve_workers).
    workers: int = 0
    # Trust policy options (DESIGN.md §2).
    require_eqar_registered: bool = True
    require_internal_qa_years: int | None = None
    # Verdict caching and signing.
    verdict_max_age: int = 300
    # The longest a change-feed long poll is held, whatever `wait` asks (proxies often cut idle answers at 30-60 s).
    feed_max_wait: int = 30
    verdict_lifetime: int = 86400
    # How the registry names itself to verifiers (OpenID Federation entity configuration, TRQP metadata).
    organization_name: str = "Provider QA Registry"
    contacts: tuple[str, ...] = ("registry@localhost",)
    # Provider portal (self-assessments, identifier proofs, invitations).
    self_assessment_cycle_years: int = 3
    proof_challenge_minutes: int = 60 * 24
    invitation_days: int = 14
    # Proof fetches go to hosts the provider names; private networks only where explicitly allowed.
    allow_private_fetch: bool = False
    fetch_ca_bundle: str | None = None
    # The port a domain identifier's well-known file is fetched from; only tests change it.
    fetch_https_port: int = 443
    # One limit for a whole proof fetch: resolving, connecting, TLS, headers and body.
    fetch_timeout_seconds: float = 10.0
    # Report files a submission names by URL: one deadline per file, and one for all the files of an upload.
    report_fetch_seconds: float = 60.0
    report_fetch_budget_seconds: float = 300.0
    debug: bool = False
    # Database waits, in seconds: a statement (PostgreSQL), a lock wait or a connection attempt that takes
    # longer fails with 503 and Retry-After, never holding a worker.
    database_statement_timeout: float = 10.0
    database_lock_timeout: float = 5.0
    database_connect_timeout: int = 5
    # Deadlines and e-mail: no SMTP host means messages wait in the outbox.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "registry@localhost"
    reminder_offsets: tuple[int, ...] = (180, 90, 30, 7)
    sweep_interval_minutes: float = 15
    # Delivery sends until the outbox is empty or this time is up, at most this many messages a minute (0: no limit).
    mail_delivery_seconds: float = 600
    mail_rate_per_minute: int = 300
    # Off unless asked for: the app built in tests must not start background jobs. From the environment it
    # is on: one process per database (the holder of the leader lock, registry/leader.py) runs the jobs.
    scheduler_in_process: bool = False
    # How often a process that does not run the scheduler tries to take the lock over (and the leader
    # checks that it still holds it).
    scheduler_takeover_seconds: float = 15.0
    # Web sign-in throttling: failed attempts allowed within the window, for one account from one
    # client address and for one address in all (accounts themselves never lock).
    login_attempts_per_account: int = 5
    login_attempts_per_address: int = 20
    login_throttle_minutes: int = 15
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

    @property
    def serve_workers(self) -> int:
        """REGISTRY_WORKERS, or one worker per core (on SQLite too: WAL lets every worker read at once)."""
        from registry.serving import cpu_count

        return self.workers if self.workers > 0 else cpu_count()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        var_dir = Path(env.get("REGISTRY_VAR_DIR", str(PROJECT_ROOT / "var"))).resolve()
        database_url = env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{var_dir / 'registry.db'}"
        secret_key = env.get("REGISTRY_SECRET_KEY") or ""
        internal_qa = env.get("REGISTRY_REQUIRE_INTERNAL_QA_YEARS", "").strip()
        workers = int(env.get("REGISTRY_WORKERS", "").strip() or "0")
        if workers < 0:
            raise ValueError(f"REGISTRY_WORKERS is a number of processes: {workers}")
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            secret_key=secret_key,
            base_url=env.get("REGISTRY_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            host=env.get("REGISTRY_HOST", "127.0.0.1"),
            port=int(env.get("REGISTRY_PORT", "8000")),
            workers=workers,
            forwarded_allow_ips=env.get("REGISTRY_FORWARDED_ALLOW_IPS", "127.0.0.1"),
            require_eqar_registered=_bool(env.get("REGISTRY_REQUIRE_EQAR_REGISTERED", "true")),
            require_internal_qa_years=int(internal_qa) if internal_qa else None,
            verdict_max_age=int(env.get("REGISTRY_VERDICT_MAX_AGE", "300")),
            feed_max_wait=int(env.get("REGISTRY_FEED_MAX_WAIT", "30")),
            verdict_lifetime=int(env.get("REGISTRY_VERDICT_LIFETIME", "86400")),
            organization_name=env.get("REGISTRY_ORGANIZATION_NAME", "Provider QA Registry").strip()
            or "Provider QA Registry",
            contacts=tuple(
                part.strip()
                for part in env.get("REGISTRY_CONTACTS", env.get("REGISTRY_SMTP_FROM", "registry@localhost")).split(",")
                if part.strip()
            ),
            self_assessment_cycle_years=int(env.get("REGISTRY_SELF_ASSESSMENT_CYCLE_YEARS", "3")),
            proof_challenge_minutes=int(env.get("REGISTRY_PROOF_CHALLENGE_MINUTES", str(60 * 24))),
            invitation_days=int(env.get("REGISTRY_INVITATION_DAYS", "14")),
            allow_private_fetch=_bool(env.get("REGISTRY_ALLOW_PRIVATE_FETCH", "false")),
            fetch_ca_bundle=env.get("REGISTRY_FETCH_CA_BUNDLE") or None,
            fetch_https_port=int(env.get("REGISTRY_FETCH_HTTPS_PORT", "443")),
            fetch_timeout_seconds=float(env.get("REGISTRY_FETCH_TIMEOUT_SECONDS", "10")),
            report_fetch_seconds=float(env.get("REGISTRY_REPORT_FETCH_SECONDS", "60")),
            report_fetch_budget_seconds=float(env.get("REGISTRY_REPORT_FETCH_BUDGET_SECONDS", "300")),
            debug=_bool(env.get("REGISTRY_DEBUG", "false")),
            database_statement_timeout=float(env.get("REGISTRY_DATABASE_STATEMENT_TIMEOUT", "10")),
            database_lock_timeout=float(env.get("REGISTRY_DATABASE_LOCK_TIMEOUT", "5")),
            database_connect_timeout=int(env.get("REGISTRY_DATABASE_CONNECT_TIMEOUT", "5")),
            smtp_host=env.get("REGISTRY_SMTP_HOST", "").strip() or None,
            smtp_port=int(env.get("REGISTRY_SMTP_PORT", "25")),
            smtp_from=env.get("REGISTRY_SMTP_FROM", "registry@localhost"),
            reminder_offsets=_offsets(env.get("REGISTRY_REMINDER_OFFSETS", "180,90,30,7")),
            sweep_interval_minutes=_positive(
                env.get("REGISTRY_SWEEP_INTERVAL_MINUTES", "15"), "SWEEP_INTERVAL_MINUTES"
            ),
            mail_delivery_seconds=float(env.get("REGISTRY_MAIL_DELIVERY_SECONDS", "600")),
            mail_rate_per_minute=int(env.get("REGISTRY_MAIL_RATE_PER_MINUTE", "300")),
            # Whatever the database and the number of workers, only the holder of the leader lock runs the
            # jobs; false leaves them to a separate `registry scheduler`.
            scheduler_in_process=_bool(env.get("REGISTRY_SCHEDULER_IN_PROCESS", "true")),
            scheduler_takeover_seconds=_positive(
                env.get("REGISTRY_SCHEDULER_TAKEOVER_SECONDS", "15"), "SCHEDULER_TAKEOVER_SECONDS"
            ),
            login_attempts_per_account=int(env.get("REGISTRY_LOGIN_ATTEMPTS_PER_ACCOUNT", "5")),
            login_attempts_per_address=int(env.get("REGISTRY_LOGIN_ATTEMPTS_PER_ADDRESS", "20")),
            login_throttle_minutes=int(env.get("REGISTRY_LOGIN_THROTTLE_MINUTES", "15")),
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
