"""The ``coursemail`` command: migrations, course checks, previews, the tick and the worker."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from emails.course import COURSES_DIR, CourseError, default_course, load_course
from service.settings import ConfigError, Settings
from workers.cli.common import settings_or_exit, start_logging
from workers.cli.desk import stats, subscribers
from workers.cli.readers import consent, erase, import_readers, pause, resume, send_test
from workers.cli.status import replies, resend, status


@click.group()
def main() -> None:
    """coursemail: an email course, sent gently and on time."""


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    from service.store.migrate import upgrade

    settings = settings_or_exit()
    click.echo(f"Migrating {_safe_url(settings.DATABASE_URL)} ...")
    upgrade(settings.DATABASE_URL)
    click.echo("Database is up to date.")


@db.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
def db_backup(file: Path) -> None:
    """Copy the database to FILE while everything keeps running (SQLite), and check the copy;
    on PostgreSQL, print the pg_dump command to use."""
    from service.store import backup

    settings = settings_or_exit()
    source = backup.sqlite_path(settings.DATABASE_URL)
    if source is None:
        click.echo("This is a PostgreSQL database: back it up with pg_dump, for example")
        click.echo(f"  {backup.pg_dump_command(settings.DATABASE_URL, file)}")
        click.echo("and restore it with pg_restore --clean --dbname=... FILE.")
        return

    def show(done: int, total: int) -> None:
        click.echo(f"\r  copied {done:,} of {total:,} pages", nl=False, err=True)

    try:
        made = backup.backup_sqlite(source, file, progress=show)
    except backup.BackupError as error:
        raise click.ClickException(f"backup failed: {error}") from None
    click.echo("", err=True)
    rows = ", ".join(f"{n:,} {table}" for table, n in made.counts.items())
    click.echo(f"Backed up to {made.path} ({made.bytes:,} bytes); integrity check: ok.")
    click.echo(f"Rows: {rows}")
    click.echo(f"To restore: stop coursemail, then copy {made.path} to {source}.")


@main.group()
def course() -> None:
    """Course files."""


@course.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def course_check(folder: Path | None) -> None:
    """Check a course folder (default: the shipped course) and render every email."""
    from emails.render import Renderer
    from service.context import contact_for

    folder = folder or COURSES_DIR / "rebuilding-trust"
    try:
        loaded = load_course(folder)
    except CourseError as error:
        raise click.ClickException(str(error)) from None
    settings = settings_or_exit()
    renderer = Renderer(loaded, contact_for(settings, loaded))
    for step in loaded.steps:
        rendered = renderer.render_step(step.index, first_name="Sam", unsubscribe_url="https://u")
        click.echo(f"  {step.index}  +{step.delay_days}d  {rendered.subject}")
    click.echo(f"{loaded.title}: {len(loaded.steps)} emails, all fine.")
    _check_safety_files(settings)


def _check_safety_files(settings: Settings) -> None:
    from emails.safety import SafetyFileError, crisis_phrases, crisis_reply

    try:
        phrases = crisis_phrases(settings.CRISIS_PHRASES_FILE)
        reply = crisis_reply(settings.CRISIS_REPLY_FILE)
    except SafetyFileError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Crisis phrases: {len(phrases.phrases)} ({settings.CRISIS_PHRASES_FILE})")
    click.echo(f"Crisis reply: {reply.subject!r} ({settings.CRISIS_REPLY_FILE})")


@main.command()
@click.argument("step", type=int)
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text part.")
@click.option("--name", default="Sam", show_default=True, help="First name to greet.")
def preview(step: int, html: bool, name: str) -> None:
    """Print course email STEP (0 = welcome) as a subscriber would receive it."""
    from workers.runtime import Runtime

    settings = settings_or_exit()
    loaded = default_course()
    if not 0 <= step < len(loaded.steps):
        raise click.BadParameter(
            f"the course has emails 0 to {len(loaded.steps) - 1}", param_hint="STEP"
        )
    rendered = (
        Runtime(settings)
        .renderer(loaded)
        .render_step(
            step, first_name=name or None, unsubscribe_url=f"{settings.PUBLIC_URL}/u/preview"
        )
    )
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.html if html else rendered.text)


@main.command()
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def tick(once: bool) -> None:
    """Find due emails and hand them to the workers, every DISPATCH_INTERVAL seconds."""
    from workers import tick
    from workers.runtime import current

    settings_or_exit()
    start_logging()
    rt = current()
    if once:
        report = tick.tick(rt)
        click.echo(f"{report.created} due, {report.enqueued} enqueued in {report.jobs} jobs")
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    tick.run_forever(rt, stop=stop)


@main.command()
@click.option("--burst", is_flag=True, help="One process; exit once the queues are empty.")
@click.option("--single", is_flag=True, help="Run one worker process, whatever WORKERS says.")
def worker(burst: bool, single: bool) -> None:
    """Run WORKERS worker processes on the course queues (they wait out Redis outages)."""
    settings = settings_or_exit()
    start_logging()
    if burst or single or settings.worker_processes == 1:
        from workers import rq_worker
        from workers.runtime import current

        rq_worker.run(current(), burst=burst)
        return
    from workers.pool import Pool

    pool = Pool(settings.worker_processes)
    pool.stop_on_signals()
    sys.exit(pool.run())


@main.command()
@click.argument("email")
@click.option("--name", default=None, help="First name.")
@click.option("--timezone", "zone", default=None, help="IANA time zone, e.g. Europe/London.")
@click.option("--confirm", is_flag=True, help="Skip the confirmation email (development only).")
def subscribe(email: str, name: str | None, zone: str | None, confirm: bool) -> None:
    """Sign EMAIL up from the command line (the web form does this for readers)."""
    from email_validator import EmailNotValidError, validate_email

    from emails.course import is_time_zone
    from service.readers import lifecycle
    from workers.runtime import current

    settings = settings_or_exit()
    if confirm and settings.is_production:
        raise click.ClickException("--confirm skips double opt-in and is refused in production")
    try:
        email = validate_email(
            email, check_deliverability=False, test_environment=not settings.is_production
        ).normalized
    except EmailNotValidError as error:
        raise click.BadParameter(str(error), param_hint="EMAIL") from None
    loaded = default_course()
    zone = zone or loaded.timezone
    if not is_time_zone(zone):
        raise click.BadParameter(f"unknown time zone {zone!r}", param_hint="--timezone")
    rt = current()
    now = rt.clock.now()
    with rt.database.session() as session:
        result = lifecycle.subscribe(
            session,
            email=email,
            first_name=name,
            timezone=zone,
            now=now,
            mail_domain=settings.mail_domain,
        )
        if confirm:
            lifecycle.confirm(session, result.subscriber, course=loaded, now=now, how="cli")
    if confirm:
        click.echo(f"{email} is enrolled; the welcome email goes out on the next tick.")
    elif result.confirmation_queued:
        click.echo(f"{email} is signed up; a confirmation email goes out on the next tick.")
    else:
        click.echo(f"{email} was already signed up; nothing new to send.")


@main.command()
def run() -> None:
    """Start everything (web, worker, tick, inbound, mail catcher) on embedded defaults."""
    from workers.launcher import main as launch

    sys.exit(launch())


@main.command()
def inbound() -> None:
    """Receive replies by SMTP on INBOUND_SMTP_HOST:INBOUND_SMTP_PORT."""
    from workers import listener
    from workers.runtime import Runtime

    settings = settings_or_exit()
    start_logging()
    rt = Runtime(settings)
    try:
        listener.run_until_signalled(rt, settings.INBOUND_SMTP_HOST, settings.INBOUND_SMTP_PORT)
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None
    finally:
        rt.database.dispose()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True, type=int)
def catcher(host: str, port: int) -> None:
    """Development mail catcher: keep every email in instance/mail (see /dev/mail)."""
    from workers import mailcatcher

    settings = settings_or_exit()
    if settings.is_production:
        raise click.ClickException("the mail catcher is for development only")
    start_logging()
    mailcatcher.run_until_signalled(host, port, settings.caught_mail)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


main.add_command(replies)
main.add_command(status)
main.add_command(resend)
main.add_command(stats)
main.add_command(subscribers)
main.add_command(pause)
main.add_command(resume)
main.add_command(erase)
main.add_command(send_test)
main.add_command(consent)
subscribers.add_command(import_readers)
