"""Send a batch of claimed deliveries over one SMTP connection.

The batch is read in one query. Per delivery: compose its bytes (``emails.wire``), take it
in hand (claimed → sending, re-checking the reader in the same statement) in one short
transaction that also records the previous email as sent, hand it to the server, and
record anything but success at once. ``service.outbox.batch`` holds the statements and explains the
trade-off; lifecycle rules live in ``service``; this module only moves data between the
database, ``emails`` and SMTP.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from emails import wire
from emails.course import course_or_first, default_course
from emails.message import (
    Routing,
    already_parts,
    build_message,
    confirmation_parts,
    course_parts,
    private_parts,
)
from service.outbox import batch, claims, outcomes, sent
from service.outbox.links import for_delivery
from service.readers.lifecycle import course_asked_for, is_suppressed
from service.store.models import Delivery, DeliveryKind, DeliveryStatus
from workers.answering import answer_outgoing
from workers.batches import database_away, one_line, over_one_connection
from workers.runtime import Runtime
from workers.transport import (
    AmbiguousError,
    Outgoing,
    PermanentError,
    TransientError,
    Transport,
    Unsupported,
)

log = logging.getLogger("coursemail.send")


#: SMTP connections one batch job sends over at once: while one waits for the server's
#: answer, the other composes, records and sends (measured in bench/wire.py).
CONNECTIONS = 2


def send_batch(rt: Runtime, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send the deliveries over ``CONNECTIONS`` connections at once, each taking every
    other id in order; returns a count per outcome."""
    parts = [list(delivery_ids[i::CONNECTIONS]) for i in range(CONNECTIONS)]
    parts = [part for part in parts if part]
    if len(parts) <= 1:
        return _send_part(rt, delivery_ids)
    helpers = [_Helper(rt, part) for part in parts[1:]]
    try:
        totals = Counter(_send_part(rt, parts[0]))
    finally:
        for helper in helpers:
            helper.join()
    for helper in helpers:
        totals.update(helper.result())
    return dict(totals)


class _Helper(threading.Thread):
    """Sends one part of a batch beside the job's own thread; its failure is re-raised."""

    def __init__(self, rt: Runtime, ids: list[int]) -> None:
        super().__init__(name="send-part", daemon=True)
        self.rt, self.ids = rt, ids
        self.outcome: dict[str, int] = {}
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.outcome = _send_part(self.rt, self.ids)
        except BaseException as error:  # noqa: BLE001 - handed to the job's thread
            self.error = error

    def result(self) -> dict[str, int]:
        if self.error is not None:
            raise self.error
        return self.outcome


def _send_part(rt: Runtime, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send each delivery in turn over one connection."""
    try:
        work = Batch(rt, delivery_ids)
    except Exception as error:
        if not database_away(error):
            raise
        log.error(
            "batch not started: the database is away (%s); the tick takes it again", one_line(error)
        )
        return {"database_away": len(delivery_ids)}
    try:
        return over_one_connection(
            rt,
            delivery_ids,
            work.send,
            what="batch",
            on_error=record_failure,
            beat=claims.refresh_claims,
        )
    finally:
        work.finish()


class Unbuildable(Exception):
    """This delivery's message could not be composed from its record."""


def record_failure(rt: Runtime, delivery_id: int, error: Exception) -> str:
    """An unexpected failure ends this one delivery, with the reason, never the batch."""
    reason = str(error) if isinstance(error, Unbuildable) else f"could not send it: {error!r}"
    with rt.database.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status not in (
            DeliveryStatus.CLAIMED,
            DeliveryStatus.SENDING,
        ):
            return "skipped"
        outcomes.record_failed(session, delivery, reason)
    log.error("delivery %d failed permanently: %s", delivery_id, reason)
    return "failed"


class Batch:
    """One job's deliveries, read in one query, sent in order; see ``service.outbox.batch`` for the
    statements and the trade-off between transactions and the window of doubt."""

    def __init__(self, rt: Runtime, delivery_ids: Sequence[int]) -> None:
        self.rt = rt
        with rt.database.session(read_only=True) as session:
            self.rows = batch.load(session, delivery_ids)
            emails = [d.reader.email for d in self.rows.values()]
            self.suppressed = batch.suppressed_among(session, emails)
        #: the last email sent whose ``sent`` rides along with the next transaction
        self.unrecorded: Delivery | None = None

    def send(self, rt: Runtime, transport: Transport, delivery_id: int) -> str:
        delivery = self.rows.get(delivery_id)
        if delivery is None:
            return "skipped"  # no longer claimed when the batch was read
        suppressed = delivery.reader.email.lower() in self.suppressed
        if outcomes.why_not_send(delivery, suppressed=suppressed) is not None:
            return send_carefully(rt, transport, delivery_id)  # records why, in its own words
        try:
            outgoing = outgoing_for(rt, delivery)
        except Exception as error:  # noqa: BLE001 - reported as this delivery's own failure
            raise Unbuildable(f"could not build the message: {error!r}") from error
        with rt.database.engine.begin() as conn:
            self._record_unrecorded(conn)
            taken = batch.take(conn, delivery, now=rt.clock.now())
        self.unrecorded = None  # committed (a failed transaction leaves it to try again)
        if not taken:  # changed since the batch was read: read it again and say why
            return send_carefully(rt, transport, delivery_id)
        # the 'sending' mark is committed before we talk to the server: if this worker dies
        # from here on, the tick records the email ambiguous (outcomes.settle_orphans)
        outcome = _deliver(rt, transport, delivery_id, outgoing)
        if outcome == "sent":
            self.unrecorded = delivery
        return outcome

    def finish(self) -> None:
        """Write the last email's ``sent`` (if the database is away, it goes stale and the
        tick records it ambiguous: never resent)."""
        last = self.unrecorded
        if last is None:
            return
        try:
            with self.rt.database.engine.begin() as conn:
                self._record_unrecorded(conn)
            self.unrecorded = None
        except Exception as error:  # noqa: BLE001 - logged; the email is out, its record in doubt
            if not database_away(error):
                log.exception("could not record delivery %d as sent", last.id)
                return
            log.error(
                "could not record delivery %d as sent: the database is away (%s); the tick "
                "will record it ambiguous",
                last.id,
                one_line(error),
            )

    def _record_unrecorded(self, conn: Connection) -> None:
        if self.unrecorded is not None:
            s = self.rt.settings
            now = self.rt.clock.now()
            sent.record_sent(conn, self.unrecorded, now=now, time_scale=s.COURSEMAIL_TIME_SCALE)


def send_carefully(rt: Runtime, transport: Transport, delivery_id: int) -> str:
    """The careful path, one delivery at a time: re-read, take in hand, send, record."""
    taken = _take(rt, delivery_id)
    if isinstance(taken, str):
        return taken
    outcome = _deliver(rt, transport, delivery_id, taken)
    if outcome == "sent":
        with rt.database.session() as session:
            scale = rt.settings.COURSEMAIL_TIME_SCALE
            delivery = _get(session, delivery_id)
            outcomes.record_sent(session, delivery, now=rt.clock.now(), time_scale=scale)
    return outcome


def _deliver(rt: Runtime, transport: Transport, delivery_id: int, taken: Outgoing) -> str:
    """Hand one message to the server; record at once anything but plain success."""
    now, scale = rt.clock.now, rt.settings.COURSEMAIL_TIME_SCALE
    try:
        transport.send(taken.envelope_from, [taken.recipient], taken.data, smtputf8=taken.smtputf8)
    except Unsupported as error:
        return _record(rt, delivery_id, "failed", error, outcomes.record_failed)
    except TransientError as error:
        return _record(
            rt, delivery_id, "retry", error, partial(outcomes.record_transient, now=now())
        )
    except PermanentError as error:
        return _record(
            rt, delivery_id, "bounced", error, partial(outcomes.record_permanent, now=now())
        )
    except AmbiguousError as error:
        record = partial(outcomes.record_ambiguous, now=now(), time_scale=scale)
        return _record(rt, delivery_id, "ambiguous", error, record)
    return "sent"


def _take(rt: Runtime, delivery_id: int) -> Outgoing | str:
    """The delivery in hand (claimed → sending) and its message, or why there is none."""
    with rt.database.session() as session:
        delivery = claims.begin_sending(session, delivery_id, now=rt.clock.now())
        if delivery is None:
            return "skipped"
        reason = outcomes.why_not_send(
            delivery, suppressed=is_suppressed(session, delivery.reader.email)
        )
        if reason is not None:
            outcomes.record_cancelled(session, delivery, reason)
            log.info("delivery %d not sent: %s", delivery_id, reason)
            return "cancelled"
        try:
            return outgoing_for(rt, delivery)
        except Exception as error:  # noqa: BLE001 - reported as this delivery's own failure
            raise Unbuildable(f"could not build the message: {error!r}") from error


def _record(
    rt: Runtime,
    delivery_id: int,
    outcome: str,
    error: Exception,
    record: Callable[[Session, Delivery, str], None],
) -> str:
    """Record what the server's answer (or silence) means for this delivery."""
    log.log(
        logging.WARNING if outcome == "ambiguous" else logging.INFO,
        "delivery %d: %s (%s)",
        delivery_id,
        outcome,
        error,
    )
    with rt.database.session() as session:
        record(session, _get(session, delivery_id), str(error))
    return outcome


def _get(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    return delivery


def outgoing_for(rt: Runtime, delivery: Delivery) -> Outgoing:
    """The envelope and the finished message for one delivery, ready for SMTP."""
    s = rt.settings
    reader = delivery.reader
    links = for_delivery(s, rt.addresses, delivery)
    routing = Routing(
        to_address=reader.email,
        first_name=reader.first_name,
        from_address=s.MAIL_FROM,
        message_id=delivery.message_id,
        date=rt.clock.now(),
        reply_address=links.reply_address,
        discreet=reader.discreet,
    )
    if delivery.kind == DeliveryKind.ANSWER:
        return answer_outgoing(rt, delivery)
    if delivery.kind in (DeliveryKind.CONFIRMATION, DeliveryKind.JOIN):
        assert links.confirm_url is not None
        renderer = rt.renderer(course_asked_for(reader, delivery.course))
        parts = confirmation_parts(renderer, routing, confirm_url=links.confirm_url)
    elif delivery.kind == DeliveryKind.ALREADY:
        assert links.unsubscribe_url is not None
        parts = already_parts(
            rt.renderer(course_or_first(delivery.course)),
            routing,
            preferences_url=links.preferences_url,
            unsubscribe_url=links.unsubscribe_url,
        )
    elif delivery.kind == DeliveryKind.PRIVATE_LINK:
        parts = private_parts(rt.renderer(default_course()), routing, private_url=links.private_url)
    else:
        assert delivery.enrollment is not None and delivery.step is not None
        assert links.unsubscribe_url is not None
        parts = course_parts(
            rt.renderer(sent.course_for(delivery.enrollment)),
            delivery.step,
            routing,
            unsubscribe_url=links.unsubscribe_url,
            unsubscribe_address=links.unsubscribe_address,
            list_domain=s.REPLY_DOMAIN,
            preferences_url=links.preferences_url,
        )
    try:
        data = wire.write(*parts)
    except wire.Unwritable:  # a header the fast writer will not fold: the library's way
        return Outgoing.of(links.envelope_from, reader.email, build_message(*parts))
    return Outgoing.raw(links.envelope_from, reader.email, data)
