"""The long-running commands: ``run`` (everything, for a developer), ``tick``, ``worker``,
``inbound`` and the development mail ``catcher``; the Procfile starts each on its own."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from service.settings import ConfigError
from workers.cli.common import settings_or_exit, start_logging


@click.command()
def run() -> None:
    """Start everything (web, worker, tick, inbound, mail catcher) on embedded defaults."""
    from workers.launcher import main as launch

    sys.exit(launch())


@click.command()
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def tick(once: bool) -> None:
    """Find due emails and hand them to the workers, every TICK_INTERVAL seconds."""
    from workers.runtime import current
    from workers.tick import run_forever, run_once

    settings_or_exit()
    start_logging()
    rt = current()
    if once:
        report = run_once(rt)
        click.echo(f"{report.created} due, {report.enqueued} enqueued in {report.jobs} jobs")
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    run_forever(rt, stop=stop)


@click.command()
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


@click.command()
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


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True, type=int)
def catcher(host: str, port: int) -> None:
    """Development mail catcher: keep every email in instance/mail (see /dev/mail)."""
    from workers import mailcatcher

    settings = settings_or_exit()
    if settings.is_production:
        raise click.ClickException("the mail catcher is for development only")
    start_logging()
    listener_host = (
        "127.0.0.1"
        if settings.INBOUND_SMTP_HOST in ("0.0.0.0", "::")
        else settings.INBOUND_SMTP_HOST
    )
    replies = (
        (settings.REPLY_DOMAIN, listener_host, settings.INBOUND_SMTP_PORT)
        if settings.tracked_replies
        else None
    )
    mailcatcher.run_until_signalled(host, port, settings.caught_mail, replies)
