"""What whoever runs the server may do to one reader, by address: ``sign-up``, ``pause``,
``resume``, ``erase`` and ``consent`` (their record), each recorded as done from the command
line, as the desk's actions are recorded as the desk's."""

from __future__ import annotations

from collections.abc import Callable

import click

from emails.course import default_course
from workers.cli.common import command_runtime, settings_or_exit


@click.command()
@click.argument("email")
@click.option("--name", default=None, help="First name.")
@click.option("--timezone", "zone", default=None, help="IANA time zone, e.g. Europe/London.")
@click.option("--confirm", is_flag=True, help="Skip the confirmation email (development only).")
@click.option("--course", "slug", default=None, help="The course's address (default: the first).")
def sign_up(
    email: str, name: str | None, zone: str | None, confirm: bool, slug: str | None
) -> None:
    """Sign EMAIL up from the command line (the web form does this for readers)."""
    from email_validator import EmailNotValidError, validate_email

    from emails.course import is_published, is_time_zone, published_slugs, shipped_course
    from service.readers import lifecycle
    from service.store.models import DeliveryKind

    settings = settings_or_exit()
    if confirm and settings.is_production:
        raise click.ClickException("--confirm skips double opt-in and is refused in production")
    try:
        email = validate_email(
            email, check_deliverability=False, test_environment=not settings.is_production
        ).normalized
    except EmailNotValidError as error:
        raise click.BadParameter(str(error), param_hint="EMAIL") from None
    with command_runtime() as rt:
        if slug is not None and not is_published(slug):
            raise click.BadParameter(
                f"no course {slug!r} is published here (there are: {', '.join(published_slugs())})",
                param_hint="--course",
            )
        loaded = shipped_course(slug) if slug else default_course()
        zone = zone or loaded.timezone
        if not is_time_zone(zone):
            raise click.BadParameter(f"unknown time zone {zone!r}", param_hint="--timezone")
        now = rt.clock.now()
        with rt.database.session() as session:
            result = lifecycle.sign_up(
                session,
                email=email,
                first_name=name,
                timezone=zone,
                now=now,
                mail_domain=settings.mail_domain,
                course=slug,
            )
            if confirm:
                lifecycle.confirm(session, result.reader, course=loaded, now=now, how="cli")
    if confirm:
        click.echo(f"{email} is enrolled; the welcome email goes out on the next tick.")
    elif result.queued in (DeliveryKind.CONFIRMATION, DeliveryKind.JOIN):
        click.echo(f"{email} is signed up; a confirmation email goes out on the next tick.")
    elif result.queued == DeliveryKind.ALREADY:
        click.echo(f"{email} is already taking the course; a note with their link goes out.")
    else:
        click.echo(f"{email} was already signed up; nothing new to send.")


def _on_reader(
    address: str, act: Callable[..., str], *, then: Callable[..., None] | None = None
) -> None:
    """Do ``act`` to the reader with ``address``; ``then(database)`` after it committed."""
    from service.readers import lifecycle
    from service.readers.actions import ActionRefused

    with command_runtime() as rt:
        try:
            with rt.database.session() as session:
                reader = lifecycle.find_by_email(session, address.strip())
                if reader is None:
                    raise ActionRefused(f"no reader has the address {address!r}")
                message = act(session, reader, now=rt.clock.now(), actor="cli")
        except ActionRefused as refusal:
            raise click.ClickException(str(refusal)) from None
        if then is not None:
            then(rt.database)
    click.echo(message)


@click.command()
@click.argument("address")
def pause(address: str) -> None:
    """Pause ADDRESS's course: nothing more goes to them until it is resumed."""
    from service.readers.actions import pause as act

    _on_reader(address, act)


@click.command()
@click.argument("address")
def resume(address: str) -> None:
    """Resume ADDRESS's paused course where it stopped."""
    from service.readers.actions import resume as act

    _on_reader(address, act)


@click.command()
@click.argument("address")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(address: str, yes: bool) -> None:
    """Erase ADDRESS's data for good: address, name, consent records and replies (an anonymous
    row stays, so the course's numbers stay true)."""
    from service.readers.erasure import after_erase
    from service.readers.erasure import erase as act

    if not yes:
        click.confirm(f"Erase everything about {address}? This cannot be undone", abort=True)
    _on_reader(address, act, then=after_erase)


@click.command()
@click.argument("address")
def consent(address: str) -> None:
    """Print ADDRESS's record: each sign-up with the words they agreed to, and every change
    since (confirmed, paused, unsubscribed and how...), oldest first."""
    from service.readers import lifecycle
    from service.readers.history import record_of

    with command_runtime() as rt, rt.database.session(read_only=True) as session:
        reader = lifecycle.find_by_email(session, address.strip())
        if reader is None:
            raise click.ClickException(f"no reader has the address {address!r}")
        entries = record_of(session, reader)
    click.echo(f"The record of {address}, oldest first (times in UTC):")
    for entry in entries:
        click.echo(f"{entry.at:%Y-%m-%d %H:%M}  {entry.what}, {entry.how}")
        if entry.detail:
            click.echo(f"                  {entry.detail}")
