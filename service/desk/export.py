"""The whole list of readers as rows, for ``coursemail readers export``: streamed (one row in
memory at a time, whatever the size of the list), and made safe for a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.desk.lists import latest_enrollment
from service.store.models import Enrollment, Reader

#: Rows read from the database at a time while exporting.
CHUNK = 1000

#: The columns of an export, in order.
FIELDS = (
    "email",
    "first_name",
    "timezone",
    "status",
    "signed_up_at",
    "confirmed_at",
    "unsubscribed_at",
    "next_email",
    "course",
)


#: What makes a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell a spreadsheet shows as typed: text that would start a formula (a sign-up named
    ``=HYPERLINK(...)``) gets a leading ``'``, which spreadsheets show as plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def count(session: Session) -> int:
    return int(session.scalar(select(func.count(Reader.id))) or 0)


def rows(session: Session) -> Iterator[dict[str, object]]:
    """Every reader, oldest first, one row in memory at a time."""
    query = (
        select(Reader, Enrollment.next_step, Enrollment.status)
        .outerjoin(Enrollment, Enrollment.id == latest_enrollment)
        .order_by(Reader.id)
        .execution_options(yield_per=CHUNK)
    )
    for reader, next_step, course in session.execute(query):
        yield {
            "email": reader.email,
            "first_name": reader.first_name or "",
            "timezone": reader.timezone,
            "status": reader.status.value,
            "signed_up_at": reader.created_at.isoformat(),
            "confirmed_at": _when(reader.confirmed_at),
            "unsubscribed_at": _when(reader.unsubscribed_at),
            "next_email": "" if next_step is None else next_step,
            "course": course.value if course else "",
        }
        session.expunge(reader)  # constant memory: nothing piles up in the session


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""
