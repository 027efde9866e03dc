"""Readers' words are kept for a set time (``REPLY_RETENTION_DAYS``, a year by default), then
deleted by the tick: the reply's text, subject, notes and whole message go; the fact that a
reply came (when, from which reader, to which email) stays (a stranger's address
goes too) for the course's figures and the reader's
timeline. The therapist's answers from the desk go with them, after the same time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.store.models import DeskAnswer, InboundMessage, InboundStatus

#: Messages whose words the tick deletes per pass (the rest wait for the next one).
PER_PASS = 500
#: Still being handled: its words are kept until it is forwarded or recorded.
IN_HAND = (InboundStatus.RECEIVED, InboundStatus.TO_FORWARD, InboundStatus.FORWARDING)


def forget_old_words(session: Session, *, now: datetime, days: int, limit: int = PER_PASS) -> int:
    """Delete the words of replies older than ``days``; returns how many."""
    old = (
        select(InboundMessage.id)
        .where(
            InboundMessage.received_at < now - timedelta(days=days),
            InboundMessage.words_deleted_at.is_(None),
            InboundMessage.status.not_in(IN_HAND),
        )
        .order_by(InboundMessage.id)
        .limit(limit)
    )
    ids = list(session.scalars(old))
    if ids:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(ids))
            .values(raw=b"", reply_text=None, subject=None, notes=None, words_deleted_at=now)
        )
        # whose it was stays through the reader's record; a stranger's address goes
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(ids), InboundMessage.reader_id.is_(None))
            .values(from_address=None)
        )
    session.execute(
        update(DeskAnswer)
        .where(DeskAnswer.created_at < now - timedelta(days=days), DeskAnswer.body.is_not(None))
        .values(body=None, subject="")
    )
    return len(ids)
