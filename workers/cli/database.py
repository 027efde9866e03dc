"""``coursemail db``: migrations, and a checked backup while everything runs."""

from __future__ import annotations

from pathlib import Path

import click

from workers.cli.common import safe_url, settings_or_exit


@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    from service.store.migrate import upgrade

    settings = settings_or_exit()
    click.echo(f"Migrating {safe_url(settings.DATABASE_URL)} ...")
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
