"""The desk's costly figures (the funnel over every delivery, sign-ups per day), counted by
the tick now and then and kept in one row, so the overview answers at once however long the
list grows (a million readers: a count over five million deliveries takes seconds).

Small lists are counted live on each visit instead: below ``LARGE_LIST`` readers (as the
last count found), the overview ignores the snapshot. The choice goes by size, not by how
long the last count took, so a busy moment never makes a small list's figures stale.

A refresh is spaced by its own cost (``spacing``): every few seconds for a small list, every
few minutes for a huge one, so the tick never spends more than a thirtieth of its time on it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from emails.course import Course
from service.desk.overview import counted
from service.store.db import Database
from service.store.models import DeskSnapshot

#: Below this many readers the overview counts live (a few milliseconds at 10,000).
LARGE_LIST = 50_000
#: Bounds of the spacing between refreshes.
SOONEST = timedelta(seconds=2)
LATEST = timedelta(minutes=5)


def spacing(seconds: float) -> timedelta:
    """Wait this long after a refresh that took ``seconds`` (30× its cost, within bounds)."""
    return min(LATEST, max(SOONEST, timedelta(seconds=30 * seconds)))


def read(session: Session) -> tuple[dict[str, Any], datetime] | None:
    """The snapshot's figures and when they were counted, if the list is large enough for
    the overview to use them."""
    row = session.get(DeskSnapshot, 1)
    if row is None:
        return None
    data = json.loads(row.data)
    signed_up = int(data["funnel"][0][1]) if data.get("funnel") else 0
    if signed_up < LARGE_LIST:
        return None
    return data, row.taken_at


def refresh_if_due(database: Database, *, now: datetime, step_titles: list[str]) -> bool:
    """Count and store the figures if the last count is older than its spacing; True if it
    did. The counting reads without the write lock; only the one-row write takes it."""
    with database.session(read_only=True) as session:
        row = session.get(DeskSnapshot, 1)
        if row is not None and now - row.taken_at < spacing(row.seconds):
            return False
        started = time.perf_counter()
        data = counted(session, now=now, step_titles=step_titles)
        took = time.perf_counter() - started
    with database.session() as session:
        row = session.get(DeskSnapshot, 1)
        if row is None:
            row = DeskSnapshot(id=1)
            session.add(row)
        row.taken_at, row.seconds, row.data = now, took, json.dumps(data)
    return True


def step_titles(course: Course) -> list[str]:
    """How the desk names each course email: the welcome, the numbered steps (as their
    subjects number them), the closing."""
    lessons = {step.index: n for n, step in enumerate(course.lesson_steps, start=1)}
    return [
        "the welcome" if i == 0 else f"step {lessons[i]}" if i in lessons else "the closing"
        for i in range(len(course.steps))
    ]
