"""Published versions of each course: its files (course.toml and one Markdown file per
email) exactly as written, so an export gives back the bytes that were imported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.models.base import Base


class CourseVersion(Base):
    """One publish of a course. ``line`` groups versions of the same shape (the same emails,
    in the same order, with the same waits): a reader who began any version of a line
    receives its newest words; a new shape starts a new line, for new readers only."""

    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("slug", "number", name="uq_course_versions_slug_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    #: 1, 2, 3… per course: what each enrollment records as its course_version
    number: Mapped[int]
    line: Mapped[int]
    #: {"course.toml": "...", "00-welcome.md": "...", ...} as JSON
    files: Mapped[str] = mapped_column(Text)
    #: what changed, in her words ("fixed a typo in Step 4")
    note: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime]
    #: who published it: a desk account's name, "import", or "first install"
    published_by: Mapped[str] = mapped_column(String(100))


class CourseDraft(Base):
    """What the therapist is writing on the desk, saved as she types; nothing here reaches a
    reader until she publishes it. Each file keeps a revision number, so two tabs editing
    the same email get a conflict instead of one silently overwriting the other."""

    __tablename__ = "course_drafts"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the whole course's files as JSON, with her changes
    files: Mapped[str] = mapped_column(Text)
    #: {"04-practical.md": 3, ...}: how many times each file was saved
    revisions: Mapped[str] = mapped_column(Text)
    #: the published version the draft began from
    base_number: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))
