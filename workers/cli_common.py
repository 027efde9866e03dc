"""What every ``coursemail`` command shares: settings read with a clear error, and logging."""

from __future__ import annotations

import logging

import click

from service.settings import ConfigError, Settings


def settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


def start_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
