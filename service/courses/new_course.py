"""A new course, made on the desk: from the blank template (``emails/blank``: a welcome, one
step and a closing, each saying what to write there) or as a copy of a course published
here. It is published at once as its version 1, with its own slug and title, and her
contact details from the first course; she writes its emails in the editor before she
shares its page.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy.orm import Session

from emails.course import (
    BLANK_DIR,
    Course,
    CourseError,
    is_published,
    published_slugs,
    read_files,
)
from service.courses import versions
from service.courses.details import set_value, toml_string
from service.store.models import CourseVersion

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_TITLE = 120


class Refused(ValueError):
    """Why no course was made, in words for the form."""


def make(
    session: Session,
    *,
    title: str,
    slug: str,
    copy_of: str | None,
    first: Course,
    taken: frozenset[str],
    by: str,
    now: datetime,
) -> versions.Published:
    """Publish a new course as version 1. ``taken``: the addresses the site already uses
    (``admin``, ``embed``...), which no course may have. Raises ``Refused``."""
    title, slug = " ".join(title.split()), slug.strip().lower()
    if not title:
        raise Refused("Please give the course a title.")
    if len(title) > MAX_TITLE:
        raise Refused(f"Please keep the title under {MAX_TITLE} characters.")
    if not _SLUG.match(slug):
        raise Refused(
            "The address must be lower-case letters, digits and dashes, like “after-the-affair”."
        )
    if slug in taken:
        raise Refused(f"“{slug}” is an address the site already uses; please choose another.")
    if is_published(slug) or versions.newest(session, slug) is not None:
        raise Refused(f"There is already a course at “{slug}”.")
    files = _files(session, copy_of, first)
    toml = files["course.toml"]
    toml = set_value(toml, "", "slug", toml_string(slug))
    toml = set_value(toml, "", "title", toml_string(title))
    toml = set_value(toml, "", "version", "1")
    files["course.toml"] = toml
    try:
        versions.load(slug, files)
    except CourseError as error:
        held = re.search(r"holds '([^']+)'", error.message)
        if held:
            raise Refused(
                f"The title’s word “{held.group(1)}” is also in what a discreet reader’s inbox "
                "shows instead of the course, so it could give the course away. Please choose "
                "a title without it (you can change those discreet lines once the course is made)."
            ) from error
        raise Refused(f"The new course did not pass the checks: {error.message}") from error
    note = f"made as a copy of {copy_of}" if copy_of else "made from the blank template"
    session.add(
        CourseVersion(
            slug=slug,
            number=1,
            line=1,
            files=json.dumps(files, ensure_ascii=False),
            note=note,
            published_at=now,
            published_by=by[:100],
        )
    )
    session.flush()
    return versions.Published(1, 1, "first")


def _files(session: Session, copy_of: str | None, first: Course) -> dict[str, str]:
    """The files to start from: the copied course's as published, or the blank template's
    with her contact details (and their country code) from the first course."""
    if copy_of is not None:
        newest = versions.newest(session, copy_of)
        if newest is None:
            raise Refused("There is no such course to copy.")
        return versions.files_of(newest)
    files = read_files(BLANK_DIR)
    toml = files["course.toml"]
    for key, value in (
        ("name", first.contact_name),
        ("email", first.contact_email),
        ("phone", first.contact_phone),
        ("country_code", first.contact_country_code or "+1"),
    ):
        toml = set_value(toml, "contact", key, toml_string(value))
    files["course.toml"] = toml
    return files


def choices() -> list[str]:
    """The courses a new one may copy, the first course first."""
    return list(published_slugs())
