"""Finding readers by any part of their address or first name, on a list of millions.

Each database has a trigram index for it (migration 0006): SQLite's FTS5 ``trigram`` table
``subscriber_search``, PostgreSQL's ``pg_trgm`` GIN indexes on ``lower(email)`` and
``lower(first_name)``. PostgreSQL's planner chooses between its index and reading the list
newest first by itself; on SQLite the choice is made here:

- a rare text (a whole address, most names): the trigram table gives the few readers that
  hold it, and only they are read;
- a common one ("gmail", a short name, anything under three characters, which trigrams cannot
  index): the list is read newest first, and the page is full after a few rows.

On PostgreSQL a text under three characters is written so that its trigram index is not
used (it has no trigrams, and the planner would read the whole index): the list is read
newest first there too.

Either way the matching is the same: case-insensitive, anywhere in the address or the name.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session

from service.store.models import Reader

#: A text held by more readers than this is found faster by reading the list newest first.
RARE = 2000


def _like(q: str) -> ColumnElement[bool]:
    pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(
        func.lower(Reader.email).like(pattern, escape="\\"),
        func.lower(Reader.first_name).like(pattern, escape="\\"),
    )


def _held(q: str) -> ColumnElement[bool]:
    """The same test as ``_like`` in a form no trigram index answers: for texts under three
    characters, which have no trigrams, PostgreSQL would otherwise read its whole index."""
    lowered = q.lower()
    return or_(
        func.strpos(func.lower(Reader.email), lowered) > 0,
        func.strpos(func.lower(Reader.first_name), lowered) > 0,
    )


def matching(session: Session, q: str) -> ColumnElement[bool]:
    """The condition on ``Reader`` for readers whose address or name holds ``q``."""
    postgres = session.get_bind().dialect.name != "sqlite"
    if postgres and len(q) < 3:
        return _held(q)
    condition = _like(q)
    if postgres or len(q) < 3:
        return condition
    phrase = '"' + q.replace('"', '""') + '"'
    found = (
        select(text("rowid"))
        .select_from(text("subscriber_search"))
        .where(text("subscriber_search MATCH :phrase"))
    )
    held_by = session.scalar(
        select(func.count()).select_from(found.limit(RARE + 1).subquery()),
        {"phrase": phrase},
    )
    if held_by is None or held_by > RARE:
        return condition
    # the trigram table finds the few; the same condition keeps the answer exact
    return Reader.id.in_(found.params(phrase=phrase)) & condition
