"""Send a batch of claimed deliveries over one SMTP connection.

Per delivery: take it in hand (claimed → sending), re-read the subscriber, render, send,
then record the outcome in the database, which advances the enrollment. Lifecycle rules
live in ``service``; this module only moves data between the database, ``emails`` and SMTP.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from email.utils import formataddr

from sqlalchemy.orm import Session

from emails.course import default_course
from emails.message import Envelope, build_message, to_bytes
from service import deliveries
from service.addresses import AddressKind
from service.lifecycle import is_suppressed
from service.models import Delivery, DeliveryKind
from service.tokens import ConfirmTokens
from workers.runtime import Runtime
from workers.transport import AmbiguousError, PermanentError, TransientError, Transport

log = logging.getLogger("coursemail.send")


def send_batch(rt: Runtime, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send each delivery in turn over one connection; returns a count per outcome."""
    return over_one_connection(rt, delivery_ids, send_one, what="batch")


def over_one_connection(
    rt: Runtime,
    ids: Sequence[int],
    handle: Callable[[Runtime, Transport, int], str],
    *,
    what: str,
) -> dict[str, int]:
    """Run ``handle`` for each id with one SMTP connection, opened lazily and always closed."""
    outcomes: Counter[str] = Counter()
    transport = rt.make_transport()
    try:
        for one_id in ids:
            outcomes[handle(rt, transport, one_id)] += 1
    finally:
        transport.close()
    log.info("%s of %d: %s", what, len(ids), dict(outcomes))
    return dict(outcomes)


def send_one(rt: Runtime, transport: Transport, delivery_id: int) -> str:
    db, settings = rt.database, rt.settings
    with db.session() as session:
        delivery = deliveries.begin_sending(session, delivery_id, now=rt.clock.now())
        if delivery is None:
            return "skipped"
        reason = deliveries.why_not_send(
            delivery, suppressed=is_suppressed(session, delivery.subscriber.email)
        )
        if reason is not None:
            deliveries.record_cancelled(session, delivery, reason)
            log.info("delivery %d not sent: %s", delivery_id, reason)
            return "cancelled"
        recipient = delivery.subscriber.email
        data = compose(rt, delivery)
        envelope_from = bounce_address(rt, delivery)
    # the 'sending' mark is committed before we talk to the server: a crash from here on is
    # found again by the tick as a stale claim and re-sent (at-least-once)
    try:
        transport.send(envelope_from, [recipient], data)
    except TransientError as error:
        outcome, record = "retry", deliveries.record_transient
        detail = str(error)
    except PermanentError as error:
        outcome, record = "bounced", deliveries.record_permanent
        detail = str(error)
    except AmbiguousError as error:
        log.warning("delivery %d is ambiguous (not re-sent): %s", delivery_id, error)
        with db.session() as session:
            deliveries.record_ambiguous(
                session,
                _get(session, delivery_id),
                str(error),
                now=rt.clock.now(),
                time_scale=settings.COURSEMAIL_TIME_SCALE,
            )
        return "ambiguous"
    else:
        with db.session() as session:
            deliveries.record_sent(
                session,
                _get(session, delivery_id),
                now=rt.clock.now(),
                time_scale=settings.COURSEMAIL_TIME_SCALE,
            )
        return "sent"
    log.info("delivery %d: %s (%s)", delivery_id, outcome, detail)
    with db.session() as session:
        record(session, _get(session, delivery_id), detail, now=rt.clock.now())
    return outcome


def _get(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    return delivery


def bounce_address(rt: Runtime, delivery: Delivery) -> str:
    """The envelope sender: ``bounces+TOKEN`` in tracked mode, so a bounce names its email."""
    if not rt.settings.tracked_replies:
        return rt.settings.MAIL_FROM
    return rt.addresses.address(
        AddressKind.BOUNCE,
        delivery.subscriber_id,
        delivery.id,
        owner=delivery.subscriber.public_id,
    )


def compose(rt: Runtime, delivery: Delivery) -> bytes:
    """The finished message for one delivery, as bytes ready for SMTP."""
    s = rt.settings
    subscriber = delivery.subscriber
    if delivery.kind == DeliveryKind.CONFIRMATION:
        renderer = rt.renderer(default_course())
        token = ConfirmTokens(s.SECRET_KEY).make(subscriber.public_id)
        rendered = renderer.render_confirmation(
            first_name=subscriber.first_name,
            confirm_url=f"{s.PUBLIC_URL}/confirm/{token}",
        )
        unsubscribe = None
        list_id = None
    else:
        assert delivery.enrollment is not None and delivery.step is not None
        course = deliveries.course_for(delivery.enrollment)
        renderer = rt.renderer(course)
        https_url = f"{s.PUBLIC_URL}/u/{subscriber.unsubscribe_token}"
        rendered = renderer.render_step(
            delivery.step, first_name=subscriber.first_name, unsubscribe_url=https_url
        )
        mailto = None
        if s.tracked_replies:
            address = rt.addresses.address(
                AddressKind.UNSUBSCRIBE, subscriber.id, delivery.id, owner=subscriber.public_id
            )
            mailto = f"mailto:{address}?subject=unsubscribe"
        unsubscribe = (https_url, mailto)
        list_id = f"{course.title} <{course.slug}.{s.REPLY_DOMAIN}>"
    if s.tracked_replies:
        reply_address = rt.addresses.address(
            AddressKind.REPLY, subscriber.id, delivery.id, owner=subscriber.public_id
        )
        reply_to = formataddr((renderer.sender_name, reply_address))
    else:
        reply_to = formataddr((s.THERAPIST_NAME, s.THERAPIST_EMAIL))
    envelope = Envelope(
        from_name=renderer.sender_name,
        from_address=s.MAIL_FROM,
        to_address=subscriber.email,
        to_name=subscriber.first_name,
        reply_to=reply_to,
        message_id=delivery.message_id,
        date=rt.clock.now(),
        unsubscribe=unsubscribe,
        list_id=list_id,
    )
    return to_bytes(build_message(rendered, envelope))
