"""The one "sent" update: a delivery recorded sent (or ambiguous: the server may have it), and
its enrollment moved on to the next step, or completed.

Both send paths write it through here: a batch, in the same short transaction that takes the
next email in hand (``service.outbox.batch``), and the careful one-at-a-time path, a resend by
hand and a dead worker's orphan through the ORM's session (``service.outbox.outcomes``). The
enrollment moves only if it is still on this step and under way: a reader who left while the
email was in flight is planned no further, and a paused one still counts the email they got.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.orm import Session

from emails.course import Course, course_version
from service.schedule import Timing
from service.store.models import (
    UNDER_WAY,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
)

_MARK = (
    update(Delivery)
    .where(Delivery.id == bindparam("b_delivery"), Delivery.status == bindparam("b_was"))
    .values(
        status=bindparam("b_status"), sent_at=bindparam("b_at"), last_error=bindparam("b_error")
    )
)
_ON_THIS_STEP = (
    Enrollment.id == bindparam("b_enrollment"),
    Enrollment.status.in_(UNDER_WAY),  # paused while this one was in flight: it still counts
    Enrollment.next_step == bindparam("b_step"),
)
_NEXT = (
    update(Enrollment)
    .where(*_ON_THIS_STEP)
    .values(next_step=bindparam("b_next_step"), next_send_at=bindparam("b_next_send_at"))
)
_COMPLETE = (
    update(Enrollment)
    .where(*_ON_THIS_STEP)
    .values(
        next_step=bindparam("b_next_step"),
        status=bindparam("b_status"),
        completed_at=bindparam("b_completed_at"),
        next_send_at=None,
    )
)


def record_sent(
    conn: Connection,
    delivery: Delivery,
    *,
    now: datetime,
    time_scale: float,
    was: DeliveryStatus = DeliveryStatus.SENDING,
    status: DeliveryStatus = DeliveryStatus.SENT,
    error: str | None = None,
) -> None:
    """``was → status`` (sent, or ambiguous with ``error``), and the enrollment moved on."""
    conn.execute(
        _MARK,
        {
            "b_delivery": delivery.id,
            "b_was": was,
            "b_status": status,
            "b_at": now,
            "b_error": error,
        },
    )
    values = advance_values(delivery, now=now, time_scale=time_scale)
    if values is None:
        return
    params = {f"b_{name}": value for name, value in values.items()}
    statement = _COMPLETE if "completed_at" in values else _NEXT
    conn.execute(
        statement, {**params, "b_enrollment": delivery.enrollment_id, "b_step": delivery.step}
    )


def record_sent_in(
    session: Session,
    delivery: Delivery,
    *,
    now: datetime,
    time_scale: float,
    status: DeliveryStatus = DeliveryStatus.SENT,
    error: str | None = None,
) -> None:
    """The same update inside an ORM session: pending changes are written first, and the
    rows it touched are read again afterwards."""
    session.flush()
    record_sent(
        session.connection(),
        delivery,
        now=now,
        time_scale=time_scale,
        was=delivery.status,
        status=status,
        error=error,
    )
    session.expire_all()


def advance_values(
    delivery: Delivery, *, now: datetime, time_scale: float
) -> dict[str, object] | None:
    """What a sent step changes on its enrollment: the next step and when it is due, or
    the course completed. None for a confirmation email."""
    enrollment = delivery.enrollment
    if delivery.kind != DeliveryKind.STEP or enrollment is None:
        return None
    course = course_for(enrollment)
    following = (delivery.step or 0) + 1
    if following >= len(course.steps):
        return {
            "next_step": following,
            "status": EnrollmentStatus.COMPLETED,
            "completed_at": now,
            "next_send_at": None,
        }
    timing = Timing.of(course, delivery.reader, scale=time_scale)
    delay = course.step(following).delay_days * max(1, enrollment.pace or 1)
    return {"next_step": following, "next_send_at": timing.due(now, delay)}


def course_for(enrollment: Enrollment) -> Course:
    """The words and shape this reader's enrollment follows: the newest of the line of the
    version they began (``service.courses.versions``)."""
    return course_version(enrollment.course, enrollment.course_version)
