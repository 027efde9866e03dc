"""The desk's drafts: her changes to a course's emails, saved as she types and checked as
``coursemail course check`` checks them, until she publishes (``versions.publish``).

An email on the desk is a form (subject, preview line, discreet subject and preview, name,
body) and, in the version, a file; ``compose`` and ``fields_of`` turn one into the other.
Each file's revision counts its saves: a save from a tab that loaded an older revision is a
``Conflict``, never a silent overwrite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from emails.course import CONFIRMATION_FILE, Course, CourseError, load_course
from service.courses import shape, versions
from service.store.models import CourseDraft

#: The form's fields, in the order a file's header lines are written.
HEADER_FIELDS = (
    ("subject", "Subject"),
    ("name", "Name"),
    ("preview", "Preview"),
    ("discreet_subject", "Discreet-Subject"),
    ("discreet_preview", "Discreet-Preview"),
)


class Conflict(Exception):
    """The email was saved from elsewhere since this tab loaded it."""


class NoCourse(Exception):
    """There is no published course of that name to draft from."""


@dataclass(frozen=True)
class Draft:
    slug: str
    files: dict[str, str]
    revisions: dict[str, int]
    base_number: int
    #: whether anything differs from the published version it began from
    changed: bool
    updated_at: datetime | None = None
    updated_by: str = ""


@dataclass(frozen=True)
class Problem:
    """What the checks found, placed for the form: ``field`` is a header field's name or
    ``body`` (then ``line`` counts from the body's first line), or ``course`` for a problem
    elsewhere in the course."""

    field: str
    line: int | None
    message: str

    @property
    def said(self) -> str:
        where = {"body": "the body", "course": "the course"}.get(self.field, self.field)
        where = where.replace("_", " ")
        return (
            f"{where}, line {self.line}: {self.message}"
            if self.line
            else f"{where}: {self.message}"
        )


def current(session: Session, slug: str) -> Draft:
    """The draft of ``slug``, or the published version as a fresh one."""
    row = session.get(CourseDraft, slug)
    published = versions.newest(session, slug)
    if published is None:
        raise NoCourse(slug)
    base = versions.files_of(published)
    if row is None:
        return Draft(slug, base, {}, published.number, changed=False)
    files = _loaded(row.files)
    revisions = {k: int(v) for k, v in _loaded(row.revisions).items()}
    return Draft(
        slug,
        files,
        revisions,
        row.base_number,
        changed=files != base,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def save(
    session: Session,
    slug: str,
    name: str,
    text: str,
    *,
    seen: int,
    by: str,
    now: datetime,
) -> int:
    """Save one file of the draft; returns its new revision. ``seen``: the revision the
    form was loaded at (a different one now raises ``Conflict``)."""
    _lock(session, slug)
    draft = current(session, slug)
    if name == "course.toml" or (name not in draft.files and name != CONFIRMATION_FILE):
        raise KeyError(name)
    if draft.revisions.get(name, 0) != seen:
        raise Conflict(
            f"this email was changed in another tab or window"
            f"{' by ' + draft.updated_by if draft.updated_by else ''} since you opened it"
        )
    files = {**draft.files, name: text}
    _write(session, draft, files, {**draft.revisions, name: seen + 1}, by=by, now=now)
    return seen + 1


def reshape(
    session: Session,
    slug: str,
    change: Callable[[dict[str, str]], dict[str, str]],
    *,
    seen: int,
    by: str,
    now: datetime,
) -> None:
    """Change the draft's shape (``change`` is one of ``shape``'s edits, given the files).
    ``seen``: the revision of the list of emails the page showed; another raises
    ``Conflict``, as two tabs on one email do."""
    _lock(session, slug)
    draft = current(session, slug)
    if draft.revisions.get("course.toml", 0) != seen:
        raise Conflict(
            "the list of emails was changed in another tab or window since you opened it"
        )
    files = change(dict(draft.files))
    revisions = {**draft.revisions, "course.toml": seen + 1}
    revisions = {name: number for name, number in revisions.items() if name in files}
    _write(session, draft, files, revisions, by=by, now=now)


def _write(
    session: Session,
    draft: Draft,
    files: dict[str, str],
    revisions: dict[str, int],
    *,
    by: str,
    now: datetime,
) -> None:
    """Keep ``files`` as the draft (its row made on the first save)."""
    row = session.get(CourseDraft, draft.slug)
    if row is None:
        row = CourseDraft(slug=draft.slug, base_number=draft.base_number)
        session.add(row)
    row.files = json.dumps(files, ensure_ascii=False)
    row.revisions = json.dumps(revisions)
    row.updated_at, row.updated_by = now, by[:100]
    session.flush()


def _lock(session: Session, slug: str) -> None:
    """Hold the draft's row until this save commits (PostgreSQL: two tabs saving at the
    same moment take turns, so the second sees the first's revision and gets a conflict)."""
    session.get(CourseDraft, slug, with_for_update=True)


def rebase(session: Session, slug: str, toml: str, *, number: int) -> None:
    """A publish from elsewhere on the desk changed only course.toml (her details): a draft
    of the emails takes it in, keeps its own list of emails, and goes on from the new
    version."""
    row = session.get(CourseDraft, slug)
    if row is None:
        return
    files = _loaded(row.files)
    files["course.toml"] = shape.with_steps(toml, shape.steps_of(files["course.toml"]))
    row.files = json.dumps(files, ensure_ascii=False)
    row.base_number = number


def discard(session: Session, slug: str) -> None:
    row = session.get(CourseDraft, slug)
    if row is not None:
        session.delete(row)


def publish(
    session: Session, slug: str, *, note: str, by: str, now: datetime
) -> versions.Published:
    """Publish the draft (it must pass every check) and end it."""
    draft = current(session, slug)
    done = versions.publish(session, draft.files, note=note, by=by, now=now)
    discard(session, slug)
    return done


def check(slug: str, files: dict[str, str], name: str) -> tuple[Course | None, list[Problem]]:
    """The course these files make, or what is wrong, placed on ``name``'s form."""
    try:
        return load_course(Path(slug), files), []
    except CourseError as error:
        return None, [_placed(error, files, name)]


def _placed(error: CourseError, files: dict[str, str], name: str) -> Problem:
    if Path(error.path).name != name:
        return Problem("course", None, str(error))
    lines = files[name].splitlines()
    header_count = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    if error.line is None:
        return Problem("body", None, error.message)
    if error.line <= header_count:
        key = lines[error.line - 1].partition(":")[0].strip().lower().replace("-", "_")
        known = {field for field, _ in HEADER_FIELDS}
        return Problem(key if key in known else "subject", None, error.message)
    return Problem("body", error.line - header_count - 1, error.message)


def fields_of(text: str) -> dict[str, str]:
    """A file's header lines and body, as the form's fields."""
    lines = text.splitlines()
    fields = {field: "" for field, _ in HEADER_FIELDS}
    fields["body"] = ""
    by_header = {header.lower(): field for field, header in HEADER_FIELDS}
    for number, line in enumerate(lines):
        if not line.strip():
            fields["body"] = "\n".join(lines[number + 1 :])
            break
        key, _, value = line.partition(":")
        if key.strip().lower() in by_header:
            fields[by_header[key.strip().lower()]] = value.strip()
    return fields


def compose(fields: dict[str, str]) -> str:
    """The file the form's fields make (header lines, a blank line, the body)."""
    head = [
        f"{header}: {' '.join(fields.get(field, '').split())}"
        for field, header in HEADER_FIELDS
        if fields.get(field, "").strip() or field == "subject"
    ]
    body = fields.get("body", "").replace("\r\n", "\n").strip("\n")
    return "\n".join(head) + "\n\n" + body + "\n"


def _loaded(raw: str) -> dict[str, str]:
    value = json.loads(raw)
    assert isinstance(value, dict)
    return value
