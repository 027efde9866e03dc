"""Course email held back on purpose (``SendingHold``): all of it after too many complaints
(until the therapist resumes it on the desk: ``COURSE``), or one receiving provider's for an
hour after it refused us for our setup or reputation. The emails wait in the database; the
therapist is told, at most once an hour about providers, with the words that caused it (any
address in them masked)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.outbox.providers import domain_of, providers
from service.store.models import Reader, ReaderEvent, SendingHold

#: The hold on all course email.
COURSE = "course"
#: How long a provider's mail waits after it refused us for our setup or reputation.
POLICY_PAUSE = timedelta(hours=1)


def active_holds(session: Session, *, now: datetime) -> dict[str, SendingHold]:
    rows = session.scalars(
        select(SendingHold).where(or_(SendingHold.until.is_(None), SendingHold.until > now))
    )
    return {row.scope: row for row in rows}


def hold(
    session: Session, scope: str, *, reason: str, now: datetime, until: datetime | None
) -> bool:
    """Hold ``scope``'s course email (``COURSE``, or a provider group) until ``until`` (None:
    until resumed). True when this starts a hold (the therapist is then told, once).

    Conditional statements only: two workers refused at the same moment both get here, and
    neither may fail for it (a plain insert would collide on the scope)."""
    reason = masked(reason)[:2000]
    fresh = {"until": until, "reason": reason, "started_at": now, "alerted_at": None}
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    added = session.execute(
        insert(SendingHold)
        .values(scope=scope, **fresh)
        .on_conflict_do_nothing(index_elements=["scope"])
        .returning(SendingHold.scope)
    ).first()
    if added is not None:
        return True
    ended = and_(SendingHold.until.is_not(None), SendingHold.until <= now)
    restarted = session.execute(
        update(SendingHold)
        .where(SendingHold.scope == scope, ended)
        .values(**fresh)
        .returning(SendingHold.scope)
    ).first()
    if restarted is not None:
        return True
    if until is not None:  # refused again while held: the hour counts from now
        session.execute(
            update(SendingHold)
            .where(
                SendingHold.scope == scope,
                SendingHold.until.is_not(None),
                SendingHold.until < until,
            )
            .values(until=until)
        )
    return False


#: An address in a server's words ("<fay@example.org>: Recipient address rejected").
_ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")


def masked(words: str) -> str:
    """A server's words with any address in them replaced: the therapist's alert, the desk
    and ``coursemail status`` show why, never whom."""
    return _ADDRESS.sub("(an address)", words)


def resume(session: Session, scope: str) -> bool:
    """End a hold now; False if there was none."""
    ended = session.execute(
        delete(SendingHold).where(SendingHold.scope == scope).returning(SendingHold.scope)
    ).first()
    return ended is not None


def hold_for_refusal(session: Session, recipient: str, said: str, *, now: datetime) -> str:
    """A receiving provider refused us for our setup or reputation: its course email waits an
    hour (the therapist is told, with its words). Returns the group held."""
    domain = domain_of(recipient)
    group = providers(session, [domain])[domain]
    hold(session, group, reason=said, now=now, until=now + POLICY_PAUSE)
    return group


#: Readers at one provider whose mail came back refused for our setup within the hour before
#: a report by mail holds that provider (a report by mail can be written by anyone, a reader
#: included; the relay's own answer at sending time holds at once).
WIDESPREAD = 3


def hold_if_widespread(session: Session, recipient: str, said: str, *, now: datetime) -> bool:
    """A report by mail said a provider refused us for our setup: hold it only once several
    of its readers' mail came back so within the hour. True when it is held now."""
    session.flush()
    domain = domain_of(recipient)
    group = providers(session, [domain])[domain]
    emails = session.execute(
        select(Reader.id, Reader.email)
        .join(ReaderEvent, ReaderEvent.reader_id == Reader.id)
        .where(ReaderEvent.kind == "refused_by_provider", ReaderEvent.at > now - POLICY_PAUSE)
        .distinct()
    ).all()
    group_of = providers(session, {domain_of(e) for _, e in emails})
    readers = {rid for rid, e in emails if group_of[domain_of(e)] == group}
    if len(readers) < WIDESPREAD:
        return False
    hold(session, group, reason=said, now=now, until=now + POLICY_PAUSE)
    return True


#: At most one email an hour about providers' holds (many at once say the same thing: look
#: at the Sending setup page, which lists them all); a hold on all course email always.
ALERT_EVERY = timedelta(hours=1)


def claim_alerts(session: Session, *, now: datetime) -> list[str]:
    """Holds to tell the therapist of now, every new one marked told (the tick enqueues one
    email each; should that fail, ``unclaim_alerts`` hands them back)."""
    told_lately = session.scalar(
        select(func.count(SendingHold.scope)).where(
            SendingHold.scope != COURSE, SendingHold.alerted_at > now - ALERT_EVERY
        )
    )
    new = sorted(
        session.execute(
            update(SendingHold)
            .where(SendingHold.alerted_at.is_(None))
            .values(alerted_at=now)
            .returning(SendingHold.scope)
        ).scalars()
    )
    course = [s for s in new if s == COURSE]
    providers_new = [s for s in new if s != COURSE]
    return course + ([] if told_lately or not providers_new else providers_new[:1])


def unclaim_alerts(session: Session, scopes: Sequence[str]) -> None:
    session.execute(
        update(SendingHold).where(SendingHold.scope.in_(scopes)).values(alerted_at=None)
    )
