"""Publishing a course: every publish is a new version, and the rule she is shown first:

- a change of words (the same emails, in the same order, with the same waits) reaches every
  reader's unsent emails: the new version joins the newest version's *line*;
- adding, removing or reordering emails, or changing a wait, starts a new line: new readers
  get it, everyone already on the course finishes the line they began;
- nothing already sent is ever sent again or skipped (each reader's place is a step number
  in their own line, which never changes shape).

A version holds the course's files exactly as written. Nothing is published that fails the
checks of ``coursemail course check``; publishing the same files again changes nothing.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emails.course import COURSES_DIR, Course, CourseError, load_course, read_files
from service.store.models import CourseVersion, Enrollment, EnrollmentStatus


@dataclass(frozen=True)
class Published:
    number: int
    line: int
    #: "words" (joins the newest line), "shape" (a new line), "first", or "unchanged"
    kind: str


def packaged_rows(now: datetime) -> list[dict[str, object]]:
    """Version 1 of each course folder shipped in the package, as rows (what a fresh install
    starts from; migration 0019 wrote the same)."""
    rows: list[dict[str, object]] = []
    for folder in sorted(p for p in COURSES_DIR.iterdir() if (p / "course.toml").is_file()):
        course = load_course(folder)
        rows.append(
            {
                "slug": course.slug,
                "number": course.version,
                "line": 1,
                "files": json.dumps(read_files(folder), ensure_ascii=False),
                "note": "the course as shipped",
                "published_at": now,
                "published_by": "first install",
            }
        )
    return rows


def load(slug: str, files: dict[str, str]) -> Course:
    """The course these files make, checked; ``CourseError`` names the file and line."""
    return load_course(Path(slug), files)


def shape(course: Course) -> tuple[tuple[str, int], ...]:
    """What a change of words leaves alone: which emails, in which order, after which wait."""
    return tuple((step.path.name, step.delay_days) for step in course.steps)


def files_of(row: CourseVersion) -> dict[str, str]:
    loaded = json.loads(row.files)
    assert isinstance(loaded, dict)
    return {str(k): str(v) for k, v in loaded.items()}


def newest(session: Session, slug: str) -> CourseVersion | None:
    return session.scalar(
        select(CourseVersion)
        .where(CourseVersion.slug == slug)
        .order_by(CourseVersion.number.desc())
        .limit(1)
    )


def what_publishing_does(session: Session, slug: str, files: dict[str, str]) -> str:
    """``first``, ``unchanged``, ``words`` or ``shape``: said to her before she publishes."""
    course = load(slug, files)
    current = newest(session, slug)
    if current is None:
        return "first"
    if files_of(current) == files:
        return "unchanged"
    return "words" if shape(load(slug, files_of(current))) == shape(course) else "shape"


def publish(
    session: Session, files: dict[str, str], *, note: str, by: str, now: datetime
) -> Published:
    """Publish ``files`` (course.toml names the course) as its next version."""
    course = load_course(Path("."), files)
    slug = course.slug
    kind = what_publishing_does(session, slug, files)
    current = newest(session, slug)
    if kind == "unchanged":
        assert current is not None
        return Published(current.number, current.line, "unchanged")
    number = 1 if current is None else current.number + 1
    line = 1 if current is None else current.line + (1 if kind == "shape" else 0)
    session.add(
        CourseVersion(
            slug=slug,
            number=number,
            line=line,
            files=json.dumps(files, ensure_ascii=False),
            note=note.strip()[:2000],
            published_at=now,
            published_by=by[:100],
        )
    )
    session.flush()
    return Published(number, line, kind)


def roll_back(session: Session, slug: str, number: int, *, by: str, now: datetime) -> Published:
    """Publish version ``number``'s words again, as a new version (history is never lost)."""
    old = session.scalar(
        select(CourseVersion).where(CourseVersion.slug == slug, CourseVersion.number == number)
    )
    if old is None:
        raise CourseError(Path(slug), None, f"there is no version {number}")
    return publish(session, files_of(old), note=f"back to version {number}", by=by, now=now)


@dataclass(frozen=True)
class VersionRow:
    number: int
    line: int
    note: str
    published_at: datetime
    published_by: str
    #: readers under way who began this version
    readers: int


def history(session: Session, slug: str) -> list[VersionRow]:
    """Every version, newest first, with how many readers under way began each."""
    counts = dict(
        session.execute(
            select(Enrollment.course_version, func.count(Enrollment.id))
            .where(
                Enrollment.course == slug,
                Enrollment.status.in_((EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)),
            )
            .group_by(Enrollment.course_version)
        ).all()
    )
    rows = session.scalars(
        select(CourseVersion)
        .where(CourseVersion.slug == slug)
        .order_by(CourseVersion.number.desc())
    )
    return [
        VersionRow(
            r.number, r.line, r.note, r.published_at, r.published_by, int(counts.get(r.number, 0))
        )
        for r in rows
    ]


_WORDS = re.compile(r"\s+|[^\s]+")


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """The words of ``after`` against ``before``: ("same" | "gone" | "new", text) runs."""
    a, b = _WORDS.findall(before), _WORDS.findall(after)
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("gone", "".join(a[i1:i2])))
        if j2 > j1:
            runs.append(("new", "".join(b[j1:j2])))
    return runs


def compare(
    session: Session, slug: str, first: int, second: int
) -> dict[str, list[tuple[str, str]]]:
    """Each file's word-level changes from version ``first`` to ``second`` (changed files)."""
    rows = {
        r.number: files_of(r)
        for r in session.scalars(
            select(CourseVersion).where(
                CourseVersion.slug == slug, CourseVersion.number.in_((first, second))
            )
        )
    }
    if first not in rows or second not in rows:
        missing = first if first not in rows else second
        raise CourseError(Path(slug), None, f"there is no version {missing}")
    a, b = rows[first], rows[second]
    return {
        name: word_diff(a.get(name, ""), b.get(name, ""))
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name)
    }
