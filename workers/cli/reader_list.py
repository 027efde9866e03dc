"""``coursemail readers export`` and ``coursemail readers import``: the whole list of readers,
out and in. The export streams (one row in memory at a time, whatever the size of the list,
with progress on stderr); the import checks every line and names the bad ones."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from workers.cli.common import command_runtime

if TYPE_CHECKING:
    from service.readers.importing import Row

#: The shortest consent statement an import accepts: it has to say something.
MIN_CONSENT = 10


@click.group()
def readers() -> None:
    """The list of readers."""


@readers.command("export")
@click.option("--format", "form", type=click.Choice(["csv", "json"]), default="csv")
def export(form: str) -> None:
    """Every reader, as CSV or JSON on standard output (progress on standard error)."""
    from service.desk import export as listing

    with command_runtime() as rt, rt.database.session(read_only=True) as session:
        total = listing.count(session)
        write = _csv_writer() if form == "csv" else _json_writer()
        next(write)
        done = 0
        for row in listing.rows(session):
            write.send(row)
            done += 1
            if done % 10_000 == 0:
                click.echo(f"exported {done:,} of {total:,} readers", err=True)
        write.close()
        click.echo(f"exported {done:,} readers", err=True)


def _csv_writer() -> Generator[None, dict[str, object], None]:
    from service.desk.export import FIELDS, spreadsheet_safe

    writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    while True:  # the file is for a spreadsheet: no cell may start a formula
        writer.writerow({k: spreadsheet_safe(v) for k, v in (yield).items()})


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


@readers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--consent", required=True, help="How these readers agreed to get the course.")
@click.option(
    "--skip-bad", is_flag=True, help="Import the good lines even when some are bad (listed)."
)
def import_readers(file: Path, consent: str, skip_bad: bool) -> None:
    """Import readers from FILE.csv (columns: email, and optionally first_name, timezone) as
    confirmed, with --consent recorded for each. The whole file is checked first: a bad line
    is reported by its number and nothing is imported (unless --skip-bad); running it again
    imports nothing twice."""
    from emails.course import default_course
    from service.readers import importing

    consent = " ".join(consent.split())
    if len(consent) < MIN_CONSENT:
        raise click.BadParameter(
            "say how these readers agreed, e.g. 'signed up on the paper form at the workshop'",
            param_hint="--consent",
        )
    lines = _count_lines(file)
    course = default_course()
    with command_runtime() as rt:
        production = rt.settings.is_production
        with _rows(file) as rows, _bar(lines, "Checking") as bar:
            problems = importing.check(
                rows, course=course, production=production, progress=_moved(bar)
            )
        if problems and not skip_bad:
            for line, problem in problems:
                click.echo(f"{file}:{line}: {problem}", err=True)
            raise click.ClickException(
                f"{len(problems):,} lines are not right (listed above), so nothing was imported. "
                "Fix them and run the same command again, or add --skip-bad to import the "
                "other lines now."
            )
        with _rows(file) as rows, _bar(lines, "Importing") as bar:
            report = importing.run(
                rows,
                session_factory=rt.database.session,
                course=course,
                consent=consent,
                source=file.name,
                now=rt.clock.now,
                production=production,
                progress=_moved(bar),
            )
    _report(file, report)


def _bar(lines: int, label: str):
    return click.progressbar(length=lines, label=label, file=sys.stderr)


def _moved(bar: Any) -> Callable[[int], None]:
    return lambda line: bar.update(line - bar.pos)


@contextmanager
def _rows(file: Path) -> Iterator[Iterator[Row]]:
    """The file's rows; a file that cannot be read to the end is named with its line."""
    from service.readers import importing

    # bytes that are not UTF-8 are kept as surrogates, for check_row to name their exact line
    with file.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            problem = importing.check_header(reader.fieldnames)
        except csv.Error as error:
            raise click.ClickException(f"{file}:1: {_unreadable(error)}") from None
        if problem:
            raise click.ClickException(f"{file}:1: {problem}")
        try:
            yield _csv_rows(reader)
        except importing.Unreadable as error:
            raise click.ClickException(
                f"{file}:{error.line}: {error.problem}; nothing was imported"
            ) from None


def _unreadable(error: csv.Error) -> str:
    return f"this line cannot be read as CSV ({error})"


def _count_lines(file: Path) -> int:
    """Lines in the file, read in blocks (for the progress bar's length)."""
    count = 0
    with file.open("rb") as raw:
        while block := raw.read(1 << 20):
            count += block.count(b"\n")
    return count


def _csv_rows(reader: csv.DictReader[str]) -> Iterator[Row]:
    from service.readers.importing import Row, Unreadable

    try:
        for values in reader:
            yield Row(reader.line_num, dict(values))
    except csv.Error as error:  # a field longer than CSV allows, say
        raise Unreadable(reader.line_num + 1, _unreadable(error)) from None


def _report(file: Path, report: object) -> None:
    from service.readers.importing import Report

    assert isinstance(report, Report)
    click.echo(f"Imported {report.imported:,} reader{'' if report.imported == 1 else 's'}.")
    if report.already:
        click.echo(f"{report.already:,} were already on the list and were left as they are.")
    if report.suppressed:
        click.echo(f"{report.suppressed:,} had bounced before and are never mailed.")
    for line, problem in report.problems:
        click.echo(f"{file}:{line}: {problem}", err=True)
    if report.problems:
        raise click.ClickException(
            f"{len(report.problems):,} lines were not imported (listed above; the exit status is 1 "
            "so a script notices); fix them and run the same command again: nothing is imported "
            "twice"
        )
