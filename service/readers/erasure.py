"""Erasing a reader: everything that names the person goes; an anonymous row stays, so the
course’s figures stay true, with an "erased" event on its record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.readers.actions import ActionRefused
from service.readers.history import record
from service.readers.lifecycle import mark_unsubscribed
from service.store.db import SQLITE_BUSY_TIMEOUT_MS, Database
from service.store.models import (
    Consent,
    Delivery,
    DeskAnswer,
    InboundMessage,
    PrivateLink,
    Reader,
    ReaderEvent,
    new_address_token,
)

#: The domain of an erased reader's stand-in address: ``.invalid`` can never receive mail.
ERASED_DOMAIN = "erased.invalid"


def after_erase(database: Database) -> None:
    """Push erased bytes out of the files: on SQLite (which runs with ``secure_delete``, so
    freed pages are zeroed) the WAL is checkpointed and truncated, as it still holds the old
    pages; on PostgreSQL the tick VACUUMs the touched tables (``vacuum_after_erase``)."""
    if database.is_sqlite:
        checkpoint(database)


#: How long a checkpoint waits for a reader to finish, in milliseconds.
CHECKPOINT_WAIT_MS = 250


def checkpoint(database: Database) -> bool:
    """Checkpoint SQLite's WAL into the database file and truncate it; False when a reader
    still held old pages open (SQLite then checkpoints only part: the tick tries again)."""
    raw = database.engine.raw_connection()  # outside any transaction, as the pragma needs
    try:
        cursor = raw.cursor()
        # a checkpoint waits for readers on the busy handler: not the writers' long wait
        cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
        try:
            busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()
    finally:
        raw.close()
    return not busy


#: The tables an erase changes, which VACUUM cleans on PostgreSQL.
ERASED_TABLES = (
    "subscribers",
    "consents",
    "inbound_messages",
    "deliveries",
    "private_links",
    "desk_answers",
)


def vacuum_after_erase(database: Database) -> bool:
    """When someone was erased since this process last cleaned up: on PostgreSQL VACUUM the
    tables an erase touched (until then the old row versions, address included, stay in the
    tables' files); on SQLite checkpoint the WAL again, in case the erase's own checkpoint
    met a reader holding old pages. Whether it completed."""
    with database.session(read_only=True) as session:
        last = session.scalar(select(func.max(ReaderEvent.at)).where(ReaderEvent.kind == "erased"))
    done = database.vacuumed_until
    if last is None or (done is not None and last <= done):
        return False
    if database.is_sqlite:
        if not checkpoint(database):
            return False  # the next tick tries again
        database.vacuumed_until = last
        return True
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ERASED_TABLES:  # VACUUM runs outside any transaction
            conn.exec_driver_sql(f"VACUUM {table}")
    database.vacuumed_until = last
    return True


def erase(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """Delete everything that names the person: address, name, time zone, consent records
    (IP, browser), replies with their raw bytes, and errors that quote the address. The row
    stays, anonymous, with its emails' states, so the course’s counts stay true.

    The suppression list keeps a bounced address: it is there so the address is never mailed
    again, which erasing must not undo."""
    if reader.erased_at is not None:
        raise ActionRefused("These details were already erased.")
    address = reader.email.lower()
    mark_unsubscribed(session, reader, now=now, how=actor)
    session.execute(delete(Consent).where(Consent.reader_id == reader.id))
    their_mail = or_(
        InboundMessage.reader_id == reader.id,
        func.lower(InboundMessage.from_address) == address,
        func.lower(InboundMessage.mail_from) == address,
    )
    their_emails = select(Delivery.id).where(Delivery.reader_id == reader.id)
    session.execute(
        delete(DeskAnswer).where(
            or_(
                DeskAnswer.delivery_id.in_(their_emails),
                DeskAnswer.inbound_id.in_(select(InboundMessage.id).where(their_mail)),
            )
        )
    )
    session.execute(delete(InboundMessage).where(their_mail))
    session.execute(update(Delivery).where(Delivery.reader_id == reader.id).values(last_error=None))
    session.execute(delete(PrivateLink).where(PrivateLink.reader_id == reader.id))
    reader.email = f"erased-{reader.public_id}@{ERASED_DOMAIN}"
    reader.first_name = None
    reader.pending_first_name = reader.pending_timezone = None
    reader.timezone = "Etc/UTC"
    reader.unsubscribe_token = new_address_token()
    reader.erased_at = now
    record(session, reader, "erased", actor=actor, now=now)
    return "Erased: the address, name, consent records and replies are gone."
