"""The `registry` command."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from registry import migrations
from registry.audit.services import Actor
from registry.db import get_engine, session_scope
from registry.errors import RegistryError
from registry.settings import Settings, get_settings
from registry.timeutil import today

CLI = Actor("cli")


def _settings() -> Settings:
    return get_settings()


@click.group()
def main() -> None:
    """Provider QA Registry: providers, their ESG quality assurance and trust verdicts."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (REGISTRY_HOST).")
@click.option("--port", default=None, type=int, help="Port (REGISTRY_PORT).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Worker processes (REGISTRY_WORKERS); default: one per core.",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the registry over HTTP (granian, uvloop); one worker runs the periodic jobs."""
    from registry.serving import serve as run

    settings = _settings()
    settings.resolved_secret_key()
    _require_migrated(settings)
    count = workers or settings.serve_workers
    # Worker processes read their settings from the environment.
    os.environ["REGISTRY_WORKERS"] = str(count)
    get_engine(settings).dispose()
    click.echo(
        f"registry: {count} worker{'s' if count > 1 else ''} on {settings.database_url.split(':', 1)[0]}; "
        + (
            "the periodic jobs run in the worker that holds the scheduler lock"
            if settings.scheduler_in_process
            else "the periodic jobs are left to `registry scheduler`"
        ),
        err=True,
    )
    run(host or settings.host, port or settings.port, count, shutdown_seconds=settings.feed_max_wait + 5)


def _require_migrated(settings: Settings) -> None:
    engine = get_engine(settings)
    if migrations.current_revision(engine) != migrations.head_revision():
        raise click.ClickException("the database is not migrated to the latest revision: run `registry db upgrade`")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration up to the latest."""
    settings = _settings()
    migrations.upgrade(settings.database_url)
    click.echo(f"database at revision {migrations.current_revision(get_engine(settings))}")


@db.command("check")
def db_check() -> None:
    """Compare the models with the migrated database; fails on any difference."""
    differences = migrations.schema_differences(get_engine(_settings()))
    if differences:
        for difference in differences:
            click.echo(f"  {difference}")
        raise click.ClickException(f"{len(differences)} differences between the models and the migrations")
    click.echo("models and migrations agree")


@main.group()
def reference() -> None:
    """Reference data (ESG 2015, countries, EQAR agency snapshot)."""


@reference.command("load")
def reference_load() -> None:
    """Load the reference data shipped with the registry (safe to run again)."""
    from registry.reference.services import load_reference

    with session_scope(get_engine(_settings())) as session:
        counts = load_reference(session)
    click.echo("reference data: " + ", ".join(f"{value} {key} added" for key, value in counts.items()))


@main.group()
def demo() -> None:
    """The fictional demo registry."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo providers, agencies, results and accounts (once)."""
    from registry.demo.services import CASES, load_demo

    with session_scope(get_engine(_settings())) as session:
        outcome = load_demo(session)
    if not outcome["loaded"]:
        click.echo("demo data already loaded")
        return
    click.echo(f"demo data: {outcome['providers']} providers, {outcome['agencies']} agencies")
    click.echo("demo accounts (password in brackets):")
    for account in outcome["accounts"]:
        click.echo(f"  {account['role']:<16} {account['email']}  [{account['password']}]")
    click.echo("demo verdict cases (identifier -> expected status today):")
    for case in CASES:
        click.echo(f"  did:web:{case.slug}.example -> {case.expect}: {case.note}")


@demo.command("accounts")
def demo_accounts() -> None:
    """Print the demo accounts."""
    from registry.demo.services import DEMO_PASSWORD

    for email in (
        "operator@registry.example",
        "editor@dac.example",
        "reviewer@dac.example",
        "staff@northbridge.example",
    ):
        click.echo(f"  {email}  [{DEMO_PASSWORD}]")


@main.group()
def users() -> None:
    """Accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option(
    "--role", required=True, type=click.Choice(["operator", "agency editor", "agency reviewer", "provider staff"])
)
@click.option("--agency-id", type=int, default=None, help="For agency editors and reviewers.")
@click.option("--provider-id", type=int, default=None, help="For provider staff.")
@click.password_option(help="Local password (prompted when omitted).")
def users_create(
    email: str, display_name: str, role: str, agency_id: int | None, provider_id: int | None, password: str
) -> None:
    """Create an account with one role."""
    from registry.accounts.services import create_user

    try:
        with session_scope(get_engine(_settings())) as session:
            user = create_user(
                session,
                email=email,
                display_name=display_name,
                password=password,
                role=role,
                agency_id=agency_id,
                provider_id=provider_id,
                actor=CLI,
            )
    except RegistryError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"created user {user.id} <{user.email}> as {role}")


@main.group()
def keys() -> None:
    """Verdict signing keys."""


@keys.command("rotate")
@click.option(
    "--purpose",
    type=click.Choice(["verdict", "federation"]),
    default="verdict",
    show_default=True,
    help="verdict: signed lookups; federation: OpenID Federation statements and trust marks.",
)
def keys_rotate(purpose: str) -> None:
    """Add a new signing key; the old one stays published until the last statement it signed expires."""
    from registry.trust.signing import rotate

    settings = _settings()
    # Nothing either key signs outlives verdict_lifetime (federation entity configurations included).
    with session_scope(get_engine(settings)) as session:
        key = rotate(session, settings.verdict_lifetime, purpose)
    click.echo(f"new {purpose} signing key {key.kid}")


@main.group()
def trust() -> None:
    """Trust timelines."""


@trust.command("rebuild")
def trust_rebuild() -> None:
    """Rebuild every provider's trust timeline, deadlines and trust list entry from the records."""
    from registry.derived import rebuild_all

    with session_scope(get_engine(_settings())) as session:
        count = rebuild_all(session)
    click.echo(f"rebuilt {count} timelines")


@main.group()
def mirror() -> None:
    """An offline copy of a registry's signed trust list, kept current from its change feed."""


@mirror.command("sync")
@click.option("--source", required=True, help="The registry's base URL, e.g. https://registry.example")
@click.option("--db", "path", required=True, type=click.Path(dir_okay=False), help="The mirror's SQLite file")
@click.option("--follow", is_flag=True, help="Keep following the change feed (long polling) until stopped")
def mirror_sync(source: str, path: str, follow: bool) -> None:
    """Build or update the copy: the trust list once, then the change feed, refusing what does not verify."""
    import time

    from registry.mirror.store import open_store
    from registry.mirror.sync import SourceUnreachable, SyncFailed, SyncReport, sync

    announced = False
    pause = 1.0
    lost = False

    def report(done: SyncReport) -> bool:
        nonlocal announced, pause, lost
        pause = 1.0
        if lost:
            click.echo(f"{source} answers again: following from position {done.position}")
            lost = False
        if not announced:
            click.echo(
                f"mirror at position {done.position}: {done.listed} providers listed, {done.changes} changes "
                f"applied; following {source} (Ctrl+C stops)"
            )
            announced = True
        elif done.changes:
            click.echo(f"at position {done.position} ({done.changes} changes applied)")
        done.changes = 0
        return True

    engine = open_store(path)
    try:
        while True:
            try:
                done = sync(engine, source, wait=30, follow=report if follow else None)
            except SourceUnreachable as error:
                if not follow:
                    raise click.ClickException(str(error)) from None
                # The copy keeps answering meanwhile; following resumes from its last applied position.
                click.echo(f"{error}; trying again in {pause:.0f} s", err=True)
                lost = True
                time.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            except SyncFailed as error:
                raise click.ClickException(str(error)) from None
            click.echo(
                f"mirror at position {done.position}: {done.listed} providers listed, {done.changes} changes applied"
            )
            return
    except KeyboardInterrupt:
        return


@mirror.command("keys")
@click.option("--out", "path", required=True, type=click.Path(dir_okay=False), help="Where to write the private key")
@click.option("--force", is_flag=True, help="Replace an existing key file")
def mirror_keys(path: str, force: bool) -> None:
    """Make the mirror's own signing key (a P-256 private JWK, readable by its owner only)."""
    from registry.mirror.keys import KeyFileError, generate

    try:
        key = generate(path, overwrite=force)
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {path} (kid {key.kid}); start the mirror with --key-file {path}")


@mirror.command("serve")
@click.option("--db", "path", envvar="REGISTRY_MIRROR_DB", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=int)
@click.option(
    "--key-file",
    envvar="REGISTRY_MIRROR_KEY_FILE",
    default=None,
    type=click.Path(dir_okay=False),
    help="The mirror's signing key (registry mirror keys): signed verdicts for Accept: application/jwt",
)
@click.option(
    "--base-url",
    envvar="REGISTRY_MIRROR_BASE_URL",
    default=None,
    help="Where verifiers reach the mirror (its signed verdicts' iss); default http://HOST:PORT",
)
def mirror_serve(path: str, host: str, port: int, key_file: str | None, base_url: str | None) -> None:
    """Answer /api/v1/trust from the copy, offline, in the registry's verdict format."""
    from registry.mirror.keys import KeyFileError, load
    from registry.serving import serve as serve_app

    try:
        if key_file:
            load(key_file)
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None
    # The same stack as `registry serve` (granian, uvloop, no access log), one worker: the worker
    # builds the app from these (registry.mirror.app:from_environment).
    os.environ["REGISTRY_MIRROR_DB"] = str(Path(path).resolve())
    os.environ["REGISTRY_MIRROR_BASE_URL"] = (base_url or f"http://{host}:{port}").rstrip("/")
    if key_file:
        os.environ["REGISTRY_MIRROR_KEY_FILE"] = str(Path(key_file).resolve())
    else:
        os.environ.pop("REGISTRY_MIRROR_KEY_FILE", None)
    serve_app(host, port, 1, target="registry.mirror.app:from_environment", factory=True)


@mirror.command("trust")
@click.argument("identifier")
@click.option("--db", "path", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--at", default=None, help="Date (2025-03-10) or RFC 3339 date-time; default now")
@click.option("--scheme", default=None)
@click.option("--eqf-level", default=None)
@click.option("--field", default=None)
@click.option("--programme", default=None)
def mirror_trust(
    identifier: str,
    path: str,
    at: str | None,
    scheme: str | None,
    eqf_level: str | None,
    field: str | None,
    programme: str | None,
) -> None:
    """Print the verdict for an identifier from the copy, as the registry's /api/v1/trust gives it."""
    import json

    from registry.mirror.app import MirrorLookup

    params = {"identifier": identifier, "scheme": scheme, "at": at, "eqf_level": eqf_level}
    try:
        payload = MirrorLookup(path).verdict({**params, "field": field, "programme": programme})
    except RegistryError as error:
        raise click.ClickException(f"{error.detail} {error.errors or ''}".strip()) from None
    click.echo(json.dumps(payload, indent=2))


@main.group()
def deadlines() -> None:
    """Review deadlines, their reminders and the e-mail outbox."""


@deadlines.command("run-once")
@click.option(
    "--today",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Sweep as if today were this day (YYYY-MM-DD). Refused in production unless --force.",
)
@click.option("--force", is_flag=True, help="Allow --today on PostgreSQL or with several workers.")
def deadlines_run_once(day: dt.datetime | None, force: bool) -> None:
    """Sweep once: write due reminders, mark overdue conditions, record verdict changes; then deliver."""
    from registry.deadlines.sweep import run_sweep
    from registry.mail.delivery import deliver_due
    from registry.web import Database

    settings = _settings()
    # Several workers named explicitly, or PostgreSQL: a production deployment.
    embedded = settings.is_sqlite and settings.workers <= 1
    if day is not None and not embedded and not force:
        raise click.UsageError(
            "--today sends real reminders and records verdict changes dated that day, so it is refused on a "
            "production deployment (PostgreSQL or several workers); add --force if that is what you want."
        )
    engine = get_engine(settings)
    with session_scope(engine) as session:
        report = run_sweep(session, day.date() if day else today(), settings)
    click.echo(
        f"{report.reminders} reminders ({report.messages} messages), {report.overdue_conditions} conditions "
        f"overdue, {report.verdict_changes} verdict changes"
    )
    delivery = deliver_due(Database(engine), settings)
    click.echo(f"outbox: {delivery.sent} sent, {delivery.failed} failed, {delivery.waiting} waiting")


@main.command()
def scheduler() -> None:
    """Run the periodic jobs (deadline sweep, outbox delivery) until stopped, in a process of their own.

    It takes part in the same election as the workers of `registry serve`: whichever holds the scheduler
    lock runs the jobs. Set REGISTRY_SCHEDULER_IN_PROCESS=false on the web servers to leave them to it.
    """
    import logging
    import signal
    import threading

    from registry.scheduler import scheduler_leader

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings()
    _require_migrated(settings)
    leader = scheduler_leader(settings, get_engine(settings))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    click.echo(
        f"scheduler: sweep and delivery every {settings.sweep_interval_minutes:g} minutes while this process "
        f"holds the scheduler lock (Ctrl-C stops)"
    )
    leader.start()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        leader.stop()


@main.group()
def outbox() -> None:
    """Outgoing e-mail."""


@outbox.command("status")
def outbox_status() -> None:
    """Count messages by status and show the ones whose delivery keeps failing."""
    from registry.mail.services import failing, outbox_counts

    with session_scope(get_engine(_settings())) as session:
        counts = outbox_counts(session)
        stuck = failing(session)
    click.echo(f"queued {counts.get('queued', 0)}, sent {counts.get('sent', 0)}")
    for message in stuck:
        click.echo(
            f"  #{message.id} to {message.to}: {message.attempts} attempts, next at "
            f"{message.next_attempt_at:%Y-%m-%d %H:%M} UTC, last error: {message.last_error}"
        )


@outbox.command("deliver")
def outbox_deliver() -> None:
    """Send the messages that are due now (the scheduler does this at every interval)."""
    from registry.mail.delivery import deliver_due
    from registry.web import Database

    report = deliver_due(Database(get_engine(_settings())), _settings())
    click.echo(f"outbox: {report.sent} sent, {report.failed} failed, {report.waiting} waiting")


@deadlines.command("sync")
def deadlines_sync() -> None:
    """Rebuild every deadline from the records."""
    from registry.deadlines.services import sync_all

    with session_scope(get_engine(_settings())) as session:
        count = sync_all(session)
    click.echo(f"{count} deadlines")


@deadlines.command("calendar-url")
@click.option("--agency-id", type=int, default=None)
@click.option("--provider-id", type=int, default=None)
@click.option("--regenerate", is_flag=True, help="Issue a new secret URL; the old one stops working.")
def calendar_url(agency_id: int | None, provider_id: int | None, regenerate: bool) -> None:
    """Print the private iCalendar feed URL of an agency's or a provider's deadlines."""
    from registry.deadlines.calendar import feed_for, feed_url

    settings = _settings()
    try:
        with session_scope(get_engine(settings)) as session:
            feed = feed_for(session, agency_id=agency_id, provider_id=provider_id, regenerate=regenerate, actor=CLI)
    except RegistryError as error:
        raise click.ClickException(error.detail) from None
    click.echo(feed_url(settings, feed))


@main.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
def backup_command(path: Path) -> None:
    """Back up the database and the uploaded documents to PATH (a new directory), with checksums."""
    from registry.backup import BackupError, backup

    try:
        outcome = backup(_settings(), path)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"backed up the {outcome.database_kind} database (schema revision {outcome.revision}) and "
        f"{outcome.files} documents to {outcome.path}"
    )


@main.command("restore")
@click.argument("path", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace a registry that already holds data.")
def restore_command(path: Path, force: bool) -> None:
    """Restore a backup made by `registry backup` into this (empty) registry; stop the registry first."""
    from registry.backup import BackupError, restore

    try:
        outcome = restore(_settings(), path, force=force)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"restored the {outcome.database_kind} database (schema revision {outcome.revision}) and "
        f"{outcome.files} documents from {outcome.path}"
    )


@main.command()
def setup() -> None:
    """Migrate, load reference data, create a signing key, and on the embedded default the demo data."""
    from registry.demo.services import demo_loaded
    from registry.reference.services import load_reference
    from registry.trust.signing import FEDERATION, ensure_key

    settings = _settings()
    settings.resolved_secret_key()
    migrations.upgrade(settings.database_url)
    with session_scope(get_engine(settings)) as session:
        load_reference(session)
        ensure_key(session)
        ensure_key(session, FEDERATION)
        first_run = not demo_loaded(session)
    if first_run:
        demo_load.main(args=[], standalone_mode=False)
    else:
        click.echo("registry ready (demo data already loaded)")


if __name__ == "__main__":
    sys.exit(main())


def _add_import_commands() -> None:
    from registry.submissions.cli import import_group

    main.add_command(import_group)


_add_import_commands()
