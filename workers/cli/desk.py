"""``coursemail stats`` and ``coursemail subscribers export``: the desk's figures and the list
of readers for whoever runs the server. The export streams: one row in memory at a time,
whatever the size of the list, with progress on stderr."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Generator, Iterator
from typing import Any

import click

from workers.cli.common import command_runtime

#: Rows read from the database at a time while exporting.
CHUNK = 1000
#: The columns of an export, in order.
FIELDS = (
    "email", "first_name", "timezone", "status", "signed_up_at", "confirmed_at",
    "unsubscribed_at", "next_email", "course",
)  # fmt: skip


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


@click.group()
def subscribers() -> None:
    """The list of readers."""


@subscribers.command("export")
@click.option("--format", "form", type=click.Choice(["csv", "json"]), default="csv")
def export(form: str) -> None:
    """Every reader, as CSV or JSON on standard output (progress on standard error)."""
    from sqlalchemy import func, select

    from service.store.models import Subscriber

    with command_runtime() as rt, rt.database.session(read_only=True) as session:
        total = int(session.scalar(select(func.count(Subscriber.id))) or 0)
        write = _csv_writer() if form == "csv" else _json_writer()
        next(write)
        done = 0
        for row in _rows(session):
            write.send(row)
            done += 1
            if done % 10_000 == 0:
                click.echo(f"exported {done:,} of {total:,} readers", err=True)
        write.close()
        click.echo(f"exported {done:,} readers", err=True)


def _rows(session: Any) -> Iterator[dict[str, object]]:
    from sqlalchemy import select

    from service.desk.overview import latest_enrollment
    from service.store.models import Enrollment, Subscriber

    query = (
        select(Subscriber, Enrollment.next_step, Enrollment.status)
        .outerjoin(Enrollment, Enrollment.id == latest_enrollment)
        .order_by(Subscriber.id)
        .execution_options(yield_per=CHUNK)
    )
    for subscriber, next_step, course in session.execute(query):
        yield {
            "email": subscriber.email,
            "first_name": subscriber.first_name or "",
            "timezone": subscriber.timezone,
            "status": subscriber.status.value,
            "signed_up_at": subscriber.created_at.isoformat(),
            "confirmed_at": _when(subscriber.confirmed_at),
            "unsubscribed_at": _when(subscriber.unsubscribed_at),
            "next_email": "" if next_step is None else next_step,
            "course": course.value if course else "",
        }
        session.expunge(subscriber)  # constant memory: nothing piles up in the session


def _when(moment: Any) -> str:
    return moment.isoformat() if moment else ""


def _csv_writer() -> Generator[None, dict[str, object], None]:
    writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    while True:
        writer.writerow((yield))


def _json_writer() -> Generator[None, dict[str, object], None]:
    out, first = sys.stdout, True
    out.write("[")
    try:
        while True:
            row = yield
            out.write(("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False))
            first = False
    finally:
        out.write("\n]\n")
