"""The published courses this process sends from: read from ``course_versions`` when they
change (one small query tells), and installed into ``emails.course``, so every caller of
``default_course()`` sees the newest version and the send path each reader's own line. The
tick and the workers look before each pass and batch, the web app before each request: a
publish is seen everywhere within one tick."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emails import course as courses
from emails.course import Course, CourseError, load_course
from service.courses.versions import files_of
from service.store.db import Database
from service.store.models import CourseVersion

log = logging.getLogger("coursemail.courses")

_lock = threading.Lock()
#: (database, newest id, how many): what was installed last
_seen: tuple[str, int | None, int] | None = None


def forget() -> None:
    """Drop what this process installed (the next refresh reads it all again)."""
    global _seen
    with _lock:
        courses.install({}, {})
        _seen = None


def refresh(database: Database) -> None:
    """Install the published versions if they changed since this process last looked."""
    global _seen
    with database.session(read_only=True) as session:
        newest_id, count = session.execute(
            select(func.max(CourseVersion.id), func.count(CourseVersion.id))
        ).one()
        key = (database.url, newest_id, int(count))
        if key == _seen:
            return
        with _lock:
            newest, by_version = _load(session)
            courses.install(newest, by_version)
            _seen = key


def _load(session: Session) -> tuple[dict[str, Course], dict[tuple[str, int], Course]]:
    # in the order published: each course's versions in number order, and the first course
    # made first (``published_slugs`` keeps that order: the first one is at ``/``)
    rows = session.scalars(select(CourseVersion).order_by(CourseVersion.id)).all()
    line_newest: dict[tuple[str, int], CourseVersion] = {}
    for row in rows:  # the last one seen of each line is its newest
        line_newest[(row.slug, row.line)] = row
    made: dict[tuple[str, int], Course] = {}
    for key, row in line_newest.items():
        try:
            made[key] = _course(row)
        except CourseError as error:  # published versions were checked; say so if not
            log.error("version %d of %s cannot be read (%s); skipped", row.number, key[0], error)
    newest: dict[str, Course] = {}
    by_version: dict[tuple[str, int], Course] = {}
    for row in rows:
        course = made.get((row.slug, row.line))
        if course is None:
            continue
        by_version[(row.slug, row.number)] = course
        newest[row.slug] = course  # the last line wins (its place stays the first one's)
    return newest, by_version


def _course(row: CourseVersion) -> Course:
    files = files_of(row)
    digest = hashlib.sha256(row.files.encode()).hexdigest()[:16]
    loaded = load_course(Path(row.slug), files)
    return replace(loaded, version=row.number, revision=f"{row.number}-{digest}")
