"""What whoever runs the server looks at and does by hand: ``status``, ``replies``,
``stats`` (the desk's overview in a shell), ``resend`` and ``send-test``."""

from __future__ import annotations

import click

from workers.cli.common import command_runtime


@click.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def status(limit: int) -> None:
    """Sends by state, claims gone stale, replies waiting, and the last day's trouble."""
    from service.desk import monitoring
    from service.desk.sending_state import sending_state
    from service.inbox import bounces

    with command_runtime() as rt:
        with rt.database.session() as session:
            found = monitoring.status(
                session,
                now=rt.clock.now(),
                claim_timeout=rt.settings.claim_timeout,
                limit=limit,
            )
            returned = bounces.counts(session, now=rt.clock.now())
            sending = sending_state(session, rt.settings, now=rt.clock.now())
    health = found.health
    states = ", ".join(f"{n} {s}" for s, n in sorted(found.by_state.items())) or "none yet"
    click.echo(f"Emails by state: {states}")
    oldest = f"{found.oldest_claim:%Y-%m-%d %H:%M:%S} UTC" if found.oldest_claim else "none"
    click.echo(f"Claims held now: oldest {oldest}; gone stale: {health.stale_claims}")
    click.echo(
        f"Replies waiting to be forwarded: {health.replies_waiting}; could not be read "
        f"automatically in the last 24 hours: {health.replies_unreadable_recent}; sent back "
        f"by the therapist's mail server (she did not get them): {health.replies_returned}"
    )
    click.echo(f"Last 24 hours: {health.ambiguous_recent} ambiguous, {health.failed_recent} failed")
    click.echo(
        f"Bounces in the last 30 days: {returned['bounced_hard']} hard (suppressed), "
        f"{returned['bounced_soft']} soft or expired, {returned['refused_by_provider']} refused "
        "for our sending setup or reputation"
    )
    if returned["refused_by_provider"]:
        click.echo(
            "  Refusals for our setup are never the readers' fault: run coursemail doctor "
            "(SPF, DKIM, DMARC)."
        )
    rate = sending.rate
    click.echo(
        f"Marked as spam in the last 30 days: {rate.complaints} of {rate.sent} course emails"
        + (f" ({rate.percent})" if rate.counted else " (a rate is counted from 200 sent)")
    )
    for held in sending.held:
        until = f"until {held.until:%Y-%m-%d %H:%M} UTC" if held.until else "until resumed"
        click.echo(f"Held: {held.who}, {until} (the desk's Sending setup page): {held.reason}")
    if sending.pacing:
        click.echo(f"Pacing: {'; '.join(sending.pacing)}")
    if not found.trouble:
        click.echo("Nothing else needs a look." if sending.held else "Nothing needs a look.")
        return
    click.echo("Needs a look (resend one with: coursemail resend ID):")
    for row in found.trouble:
        step = "confirmation" if row.step is None else f"email {row.step}"
        click.echo(
            f"  #{row.delivery_id}  {row.when:%Y-%m-%d %H:%M} UTC  {row.status:<16} "
            f"{step:<12} {row.email}\n      {row.reason}"
        )


@click.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def replies(limit: int) -> None:
    """The latest messages received: replies, bounces, auto-replies, and any still waiting."""
    from sqlalchemy import select

    from service.store.models import InboundMessage

    with command_runtime() as rt:
        with rt.database.session() as session:
            rows = list(
                session.scalars(
                    select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
                )
            )
            if not rows:
                click.echo(
                    "No replies yet. Readers' answers arrive at "
                    f"reply+...@{rt.settings.REPLY_DOMAIN} (see the README, 'Replies')."
                )
                return
            for row in rows:
                flag = "URGENT " if row.urgent else ""
                click.echo(
                    f"#{row.id}  {row.received_at:%Y-%m-%d %H:%M} UTC  {row.status:<11} "
                    f"{(row.category or '-'):<11} {flag}{row.from_address or row.mail_from or '?'}"
                    f"  {(row.subject or '')[:60]!r}"
                )
                if row.last_error and row.status != "forwarded":
                    when = (
                        f"{row.next_attempt_at:%Y-%m-%d %H:%M} UTC"
                        if row.next_attempt_at
                        else "soon"
                    )
                    click.echo(f"      waiting: {row.last_error} (next try {when})")


@click.command()
def stats() -> None:
    """The course's funnel and what needs a look, as on the desk's overview."""
    from emails.course import default_course
    from service.desk import overview
    from service.desk.snapshot import step_titles

    with command_runtime() as rt:
        titles = step_titles(default_course())
        with rt.database.session(read_only=True) as session:
            figures = overview.overview(
                session,
                now=rt.clock.now(),
                step_titles=titles,
                claim_timeout=rt.settings.claim_timeout,
            )
    if figures.empty:
        click.echo("Nobody has signed up yet. The course page is at " + rt.settings.PUBLIC_URL)
    for stage in figures.funnel:
        click.echo(f"{stage.label:<28}{stage.count:>10,}")
    if figures.left:
        click.echo("\nWhere readers unsubscribed:")
        for stage in figures.left:
            click.echo(f"  {stage.label:<26}{stage.count:>10,}")
    click.echo("")
    for label, value in (
        ("Due in the next 24 hours", figures.due_24h),
        ("Held by a stopped worker", figures.stale_claims),
        ("Replies waiting to forward", figures.forwards_waiting),
        ("Ambiguous emails", figures.ambiguous),
        ("Failed emails", figures.failed),
    ):
        click.echo(f"{label:<28}{value:>10,}")


@click.command()
@click.argument("delivery_id", type=int)
def resend(delivery_id: int) -> None:
    """Send an ambiguous or failed email again, now, on purpose (see coursemail status)."""
    from workers.desk_jobs import ActionRefused
    from workers.desk_jobs import resend as send_again

    with command_runtime() as rt:
        try:
            recipient = send_again(rt, delivery_id, actor="cli")
        except ActionRefused as refusal:
            message = str(refusal)
            if not message.startswith("there is no"):
                message = f"email #{delivery_id} was not resent: {message}"
            raise click.ClickException(message) from None
    click.echo(f"Email #{delivery_id} was sent again to {recipient}.")


@click.command("send-test")
@click.argument("step")
@click.option("--to", "to", required=True, help="The address to send the test to.")
def send_test(step: str, to: str) -> None:
    """Send course email STEP (0 = the welcome, or 'confirmation') to --to, its subject
    starting with [TEST]. It is nobody's course email and is not counted."""
    from email_validator import EmailNotValidError, validate_email

    from workers.desk_jobs import ActionRefused
    from workers.desk_jobs import send_test as send

    which = None if step == "confirmation" else _step_number(step)
    with command_runtime() as rt:
        try:
            address = validate_email(
                to, check_deliverability=False, test_environment=not rt.settings.is_production
            ).normalized
        except EmailNotValidError as error:
            raise click.BadParameter(str(error), param_hint="--to") from None
        try:
            subject = send(rt, which, address)
        except ActionRefused as refusal:
            raise click.ClickException(f"the test was not sent: {refusal}") from None
    click.echo(f"Sent {subject!r} to {address}.")


def _step_number(step: str) -> int:
    if not (step.isdecimal() and step.isascii()):
        raise click.BadParameter(
            "a step number (0 = the welcome) or 'confirmation'", param_hint="STEP"
        )
    return int(step)
