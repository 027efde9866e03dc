"""``coursemail pause|resume|erase ADDRESS``, ``coursemail send-test STEP --to ADDRESS`` and
``coursemail subscribers import FILE.csv --consent "..."``: the desk's actions for whoever
runs the server, recorded as done from the command line."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from workers.cli.common import command_runtime

if TYPE_CHECKING:
    from service.readers.importing import Row

#: The shortest consent statement an import accepts: it has to say something.
MIN_CONSENT = 10


def _on_reader(address: str, act: Callable[..., str]) -> None:
    from service.readers import lifecycle
    from service.readers.actions import Refused

    with command_runtime() as rt:
        try:
            with rt.database.session() as session:
                reader = lifecycle.find_by_email(session, address.strip())
                if reader is None:
                    raise Refused(f"no reader has the address {address!r}")
                message = act(session, reader, now=rt.clock.now(), actor="cli")
        except Refused as refusal:
            raise click.ClickException(str(refusal)) from None
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
    from service.readers.actions import erase as act

    if not yes:
        click.confirm(f"Erase everything about {address}? This cannot be undone", abort=True)
    _on_reader(address, act)


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


@click.command("send-test")
@click.argument("step")
@click.option("--to", "to", required=True, help="The address to send the test to.")
def send_test(step: str, to: str) -> None:
    """Send course email STEP (0 = the welcome, or 'confirmation') to --to, its subject
    starting with [TEST]. It is nobody's course email and is not counted."""
    from email_validator import EmailNotValidError, validate_email

    from workers.desk_jobs import Refused
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
        except Refused as refusal:
            raise click.ClickException(f"the test was not sent: {refusal}") from None
    click.echo(f"Sent {subject!r} to {address}.")


def _step_number(step: str) -> int:
    if not step.isdigit():
        raise click.BadParameter(
            "a step number (0 = the welcome) or 'confirmation'", param_hint="STEP"
        )
    return int(step)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--consent", required=True, help="How these readers agreed to get the course.")
def import_readers(file: Path, consent: str) -> None:
    """Import readers from FILE.csv (columns: email, and optionally first_name, timezone) as
    confirmed, with --consent recorded for each. Bad lines are reported and skipped; running
    it again imports nothing twice."""
    from emails.course import default_course
    from service.readers import importing

    consent = " ".join(consent.split())
    if len(consent) < MIN_CONSENT:
        raise click.BadParameter(
            "say how these readers agreed, e.g. 'signed up on the paper form at the workshop'",
            param_hint="--consent",
        )
    lines = _count_lines(file)
    with command_runtime() as rt, file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        problem = importing.check_header(reader.fieldnames)
        if problem:
            raise click.ClickException(f"{file}:1: {problem}")
        with click.progressbar(length=lines, label="Importing", file=sys.stderr) as bar:
            report = importing.run(
                _rows(reader),
                session_factory=rt.database.session,
                course=default_course(),
                consent=consent,
                source=file.name,
                now=rt.clock.now,
                production=rt.settings.is_production,
                progress=lambda line: bar.update(line - bar.pos),
            )
    _report(file, report)


def _count_lines(file: Path) -> int:
    """Lines in the file, read in blocks (for the progress bar's length)."""
    count = 0
    with file.open("rb") as raw:
        while block := raw.read(1 << 20):
            count += block.count(b"\n")
    return count


def _rows(reader: csv.DictReader[str]) -> Iterator[Row]:
    from service.readers.importing import Row

    for values in reader:
        yield Row(reader.line_num, dict(values))


def _report(file: Path, report: object) -> None:
    from service.readers.importing import Report

    assert isinstance(report, Report)
    click.echo(f"Imported {report.imported:,} readers.")
    if report.already:
        click.echo(f"{report.already:,} were already on the list and were left as they are.")
    if report.suppressed:
        click.echo(f"{report.suppressed:,} had bounced before and are never mailed.")
    for line, problem in report.problems:
        click.echo(f"{file}:{line}: {problem}", err=True)
    if report.problems:
        raise click.ClickException(
            f"{len(report.problems):,} lines were not imported (listed above); fix them and run "
            "the same command again: nothing is imported twice"
        )
