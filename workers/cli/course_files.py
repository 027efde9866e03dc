"""``coursemail course check|export|import|versions`` and ``coursemail preview``: the
course's files, checked, published as versions, written back out, and shown as a reader gets
them."""

from __future__ import annotations

from pathlib import Path

import click

from emails.course import COURSES_DIR, CourseError, default_course, load_course
from service.settings import Settings
from workers.cli.common import settings_or_exit


@click.group()
def course() -> None:
    """Course files."""


@course.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def course_check(folder: Path | None) -> None:
    """Check a course folder (default: the shipped course) and render every email."""
    from emails.render import Renderer
    from service.context import contact_for

    folder = folder or COURSES_DIR / "rebuilding-trust"
    try:
        loaded = load_course(folder)
    except CourseError as error:
        raise click.ClickException(str(error)) from None
    settings = settings_or_exit()
    renderer = Renderer(loaded, contact_for(settings, loaded))
    for step in loaded.steps:
        rendered = renderer.render_step(step.index, first_name="Sam", unsubscribe_url="https://u")
        click.echo(f"  {step.index}  +{step.delay_days}d  {rendered.subject}")
    click.echo(f"{loaded.title}: {len(loaded.steps)} emails, all fine.")
    _check_safety_files(settings)


def _check_safety_files(settings: Settings) -> None:
    from emails.safety import SafetyFileError, crisis_phrases, crisis_reply

    try:
        phrases = crisis_phrases(settings.CRISIS_PHRASES_FILE)
        reply = crisis_reply(settings.CRISIS_REPLY_FILE)
    except SafetyFileError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Crisis phrases: {len(phrases.phrases)} ({settings.CRISIS_PHRASES_FILE})")
    click.echo(f"Crisis reply: {reply.subject!r} ({settings.CRISIS_REPLY_FILE})")


@click.command()
@click.argument("step", type=int)
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text part.")
@click.option("--name", default="Sam", show_default=True, help="First name to greet.")
@click.option("--discreet", is_flag=True, help="As a reader who asked for discretion gets it.")
def preview(step: int, html: bool, name: str, discreet: bool) -> None:
    """Print course email STEP (0 = welcome) as a reader would receive it."""
    from workers.runtime import Runtime

    settings = settings_or_exit()
    loaded = default_course()
    if not 0 <= step < len(loaded.steps):
        raise click.BadParameter(
            f"the course has emails 0 to {len(loaded.steps) - 1}", param_hint="STEP"
        )
    renderer = Runtime(settings).renderer(loaded)
    rendered = renderer.render_step(
        step,
        first_name=name or None,
        unsubscribe_url=f"{settings.PUBLIC_URL}/u/preview",
        discreet=discreet,
    )
    click.echo(f"From: {renderer.discreet_sender if discreet else renderer.sender_name}")
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.html if html else rendered.text)


@course.command("export")
@click.argument("slug")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def course_export(slug: str, folder: Path) -> None:
    """Write the published version of course SLUG into FOLDER (course.toml and the emails)."""
    from emails.course import write_files
    from service.courses import versions
    from workers.cli.common import command_runtime

    with command_runtime() as rt, rt.database.session(read_only=True) as session:
        newest = versions.newest(session, slug)
        if newest is None:
            raise click.ClickException(f"there is no course {slug!r} (see: coursemail course list)")
        files = versions.files_of(newest)
    clashing = [name for name in files if (folder / name).exists()]
    if clashing:
        raise click.ClickException(
            f"{folder} already holds {', '.join(clashing)}: export into an empty folder"
        )
    write_files(folder, files)
    click.echo(f"Version {newest.number} of {slug}: {len(files)} files written to {folder}")


@course.command("import")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--note", default="", help="What changed, for the versions list.")
def course_import(folder: Path, note: str) -> None:
    """Publish the course in FOLDER as its next version, once it passes `course check`."""
    from emails.course import read_files
    from service.courses import versions
    from workers.cli.common import command_runtime

    try:
        files = read_files(folder)  # every check, each problem named by file and line
    except CourseError as error:
        raise click.ClickException(str(error)) from None
    with command_runtime() as rt, rt.database.session() as session:
        done = versions.publish(
            session, files, note=note or f"imported from {folder}", by="import", now=rt.clock.now()
        )
        slug = load_course(folder).slug
    said = {
        "unchanged": "nothing changed: it is the same as the version published now",
        "first": "the first version of a new course",
        "words": "a change of words: every reader's unsent emails carry it",
        "shape": (
            "emails added, removed or moved, or a wait changed: new readers get this version; "
            "everyone already on the course finishes the one they began"
        ),
    }[done.kind]
    click.echo(f"{slug} version {done.number}: {said}")


@course.command("list")
def course_list() -> None:
    """The courses published here, the first (at the site's front page) first."""
    from emails.course import published_slugs, shipped_course
    from service.courses import versions
    from workers.cli.common import command_runtime

    with command_runtime() as rt, rt.database.session(read_only=True) as session:
        public = rt.settings.PUBLIC_URL.rstrip("/")
        for number, slug in enumerate(published_slugs()):
            loaded = shipped_course(slug)
            newest = versions.newest(session, slug)
            page = public + "/" + ("" if number == 0 else slug)
            click.echo(
                f"  {slug:<24} {loaded.title}: {len(loaded.steps)} emails, "
                f"version {newest.number if newest else 1}, at {page}"
            )


@course.command("versions")
@click.argument("slug", default="rebuilding-trust")
def course_versions(slug: str) -> None:
    """Every published version of course SLUG, newest first, with its readers under way."""
    from service.courses import versions
    from workers.cli.common import command_runtime

    with command_runtime() as rt, rt.database.session(read_only=True) as session:
        rows = versions.history(session, slug)
    if not rows:
        raise click.ClickException(f"there is no course {slug!r}")
    for row in rows:
        click.echo(
            f"  {row.number:>3}  {row.published_at:%Y-%m-%d %H:%M} UTC  {row.readers:>6} readers  "
            f"{row.published_by}: {row.note or '(no note)'}"
        )
