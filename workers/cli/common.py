"""What every ``coursemail`` command shares: settings read with a clear error, and logging."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from service.settings import ConfigError, Settings

if TYPE_CHECKING:
    from workers.runtime import Runtime


def settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


def start_logging() -> None:
    from service import logmask

    logmask.install()  # no address in full in any log line
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


@contextmanager
def command_runtime() -> Iterator[Runtime]:
    """A runtime for one command, on a database that is set up for this version (else a
    clear error, not a traceback); its connections are closed when it is done."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.store.migrate import behind
    from workers.runtime import Runtime  # only the commands that need it pay for the import

    rt = Runtime(settings_or_exit())
    try:
        try:
            problem = behind(rt.database)
        except SQLAlchemyError as error:
            raise click.ClickException(
                f"cannot reach the database at {safe_url(rt.settings.DATABASE_URL)}: "
                f"{str(error).splitlines()[0]}"
            ) from None
        if problem:
            raise click.ClickException(
                f"the database at {safe_url(rt.settings.DATABASE_URL)} is not ready: {problem}. "
                "Run `coursemail db upgrade` first (`make run` does), from the project's folder "
                "(the development database lives in ./instance there)."
            )
        from service.courses import catalog

        catalog.refresh(rt.database)
        yield rt
    finally:
        rt.database.dispose()


def safe_url(url: str) -> str:
    """A database address fit to print: the password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
