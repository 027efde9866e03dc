"""``coursemail desk …``: who may open the desk, from the server's own shell (for the first
account without ``ADMIN_PASSWORD``, a colleague, or a lost password or phone)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from workers.cli.common import command_runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from service.store.models import DeskUser


@click.group()
def desk() -> None:
    """Who may open the desk: accounts, passwords, sign-in codes."""


def _new_password() -> str:
    from service.desk.accounts import MIN_PASSWORD

    return str(
        click.prompt(
            f"Password ({MIN_PASSWORD} characters or more)",
            hide_input=True,
            confirmation_prompt="The same password again",
        )
    )


@desk.command("add-user")
@click.argument("name")
def add_user(name: str) -> None:
    """Give NAME an account on the desk (asks for the password)."""
    from service.desk import accounts, audit

    password = _new_password()
    with command_runtime() as rt:
        now = rt.clock.now()
        try:
            with rt.database.session() as db:
                user = accounts.add(db, name, password, now)
                audit.record(
                    db,
                    now,
                    "account_added",
                    user=None,
                    ip=None,
                    detail=f"{user.name}, from the command line",
                )
        except accounts.AccountError as problem:
            raise click.ClickException(str(problem)) from None
    click.echo(f"{name.strip()} can sign in to the desk now.")


def _user(db: Session, name: str) -> DeskUser:
    from service.desk import accounts

    user = accounts.find(db, name)
    if user is None:
        raise click.ClickException(
            f"There is no account named {name!r} (see coursemail desk users)."
        )
    return user


@desk.command("password")
@click.argument("name")
def password(name: str) -> None:
    """Give NAME a new password, signing out every browser they are signed in on."""
    from service.desk import accounts, audit

    new = _new_password()
    with command_runtime() as rt:
        now = rt.clock.now()
        try:
            with rt.database.session() as db:
                user = _user(db, name)
                accounts.set_password(db, user, new, now)
                audit.record(
                    db,
                    now,
                    "password_changed",
                    user=user.name,
                    ip=None,
                    detail="from the command line",
                )
        except accounts.AccountError as problem:
            raise click.ClickException(str(problem)) from None
    click.echo(f"{name}'s password is changed; every browser of theirs is signed out.")


@desk.command("code-off")
@click.argument("name")
def code_off(name: str) -> None:
    """Turn off NAME's sign-in code (a lost phone and lost recovery codes)."""
    from service.desk import accounts, audit

    with command_runtime() as rt:
        now = rt.clock.now()
        with rt.database.session() as db:
            user = _user(db, name)
            accounts.turn_off_code(user)
            accounts.end_all(db, user, now)
            audit.record(
                db, now, "code_turned_off", user=user.name, ip=None, detail="from the command line"
            )
    click.echo(
        f"{name}'s sign-in code is off; they sign in with their password, then set it up again."
    )


@desk.command("remove-user")
@click.argument("name")
def remove_user(name: str) -> None:
    """Take NAME's account away (the audit log keeps what they did)."""
    from service.desk import accounts, audit

    with command_runtime() as rt:
        now = rt.clock.now()
        with rt.database.session() as db:
            user = _user(db, name)
            accounts.remove(db, user)
            audit.record(
                db,
                now,
                "account_removed",
                user=None,
                ip=None,
                detail=f"{user.name}, from the command line",
            )
    click.echo(f"{name} can no longer open the desk.")


@desk.command("users")
def users() -> None:
    """List who may open the desk."""
    from service.desk import accounts

    with command_runtime() as rt:
        with rt.database.session(read_only=True) as db:
            rows = accounts.everyone(db)
            if not rows:
                click.echo(
                    "Nobody has an account yet: coursemail desk add-user NAME makes one "
                    "(or the first sign-in with ADMIN_PASSWORD does)."
                )
            for user in rows:
                code = (
                    f"sign-in code on, {accounts.recovery_codes_left(user)} recovery codes left"
                    if user.totp_secret
                    else "no sign-in code"
                )
                click.echo(f"{user.name}\tsince {user.created_at:%Y-%m-%d}\t{code}")
