"""``coursemail keys new`` and ``coursemail keys rotate``: the key that seals readers' replies
at rest (``REPLY_KEY``; see ``service.store.sealing``)."""

from __future__ import annotations

import click

from workers.cli.common import command_runtime

#: Replies sealed again per transaction.
CHUNK = 200


@click.group()
def keys() -> None:
    """The key that seals readers' replies at rest."""


@keys.command("new")
def new() -> None:
    """Print a new key for REPLY_KEY (keep a copy somewhere safe)."""
    from service.store.sealing import new_key

    click.echo(new_key())


@keys.command("rotate")
def rotate() -> None:
    """Seal every stored reply, answer and sign-in code secret again with REPLY_KEY's first
    key, while everything runs.

    Put the new key first (REPLY_KEY=new,old) on every process, run this, then drop the old
    key. A reply stored before sealing began is sealed now too."""
    from typing import Any

    from sqlalchemy import func, select
    from sqlalchemy.orm.attributes import flag_modified

    from service.store.models import DeskAnswer, DeskUser, InboundMessage

    sealed: list[tuple[Any, tuple[str, ...], str]] = [
        (InboundMessage, ("raw", "subject", "reply_text", "notes"), "messages"),
        (DeskAnswer, ("subject", "body"), "answers"),
        (DeskUser, ("totp_secret", "totp_pending"), "desk accounts"),
    ]
    with command_runtime() as rt:
        for model, columns, what in sealed:
            with rt.database.session(read_only=True) as session:
                total = int(session.scalar(select(func.count(model.id))) or 0)
            done, after = 0, 0
            while True:
                with rt.database.session() as session:
                    rows = session.scalars(
                        select(model).where(model.id > after).order_by(model.id).limit(CHUNK)
                    ).all()
                    for row in rows:
                        for name in columns:
                            if getattr(row, name) is not None:
                                flag_modified(row, name)
                if not rows:
                    break
                after, done = rows[-1].id, done + len(rows)
                click.echo(f"sealed {done:,} of {total:,} {what} again", err=True)
            click.echo(
                f"Every stored {what[:-1]} is sealed with the first key of REPLY_KEY ({done:,})."
            )
