"""Drive the engine by hand: tick, run the jobs, move the clock to the next due moment."""

from __future__ import annotations

from datetime import datetime, timedelta

from rq import SimpleWorker
from sqlalchemy import func, select

from service.queues import QUEUES
from service.readers import lifecycle
from service.store.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus, Reader
from workers import tick
from workers.runtime import Runtime


def work(rt: Runtime) -> None:
    """Run every queued job in this process, as RQ's own tests do."""
    queues = [rt.queue(name) for name in QUEUES]
    SimpleWorker(queues, connection=rt.redis).work(burst=True)


def tick_and_work(rt: Runtime) -> tick.TickReport:
    report = tick.run_once(rt)
    work(rt)
    return report


def enrolled(rt: Runtime, email: str, *, timezone: str, first_name: str | None = "Sam") -> int:
    """A confirmed reader (the sign-up pages do this for real); returns their id."""
    from emails.course import default_course
    from service.courses import catalog

    catalog.refresh(rt.database)  # as the web app does before each request
    now = rt.clock.now()
    with rt.database.session() as session:
        result = lifecycle.sign_up(
            session,
            email=email,
            first_name=first_name,
            timezone=timezone,
            now=now,
            mail_domain=rt.settings.mail_domain,
        )
        lifecycle.confirm(session, result.reader, course=default_course(), now=now)
        # the confirmation email is not part of these tests: it was "sent" already
        for delivery in session.scalars(
            select(Delivery).where(Delivery.reader_id == result.reader.id)
        ):
            delivery.status = DeliveryStatus.SENT
        return result.reader.id


def next_moment(rt: Runtime) -> datetime | None:
    """The earliest time anything is due: an enrollment's next step or a retry."""
    with rt.database.session() as session:
        step = session.scalar(
            select(func.min(Enrollment.next_send_at)).where(
                Enrollment.status == EnrollmentStatus.ACTIVE
            )
        )
        retry = session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.status == DeliveryStatus.RETRY_WAIT
            )
        )
    moments = [m for m in (step, retry) if m is not None]
    return min(moments) if moments else None


def run_course(rt: Runtime, *, days: int = 30) -> None:
    """Run the clock forward, tick by tick, until nothing more is due (or ``days`` pass)."""
    clock = rt.clock
    assert hasattr(clock, "set")
    end = clock.now() + timedelta(days=days)
    tick_and_work(rt)
    while (moment := next_moment(rt)) is not None and moment <= end:
        if moment > clock.now():
            clock.set(moment)
        tick_and_work(rt)


def reader(rt: Runtime, reader_id: int) -> Reader:
    with rt.database.session() as session:
        found = session.get(Reader, reader_id)
        assert found is not None
        session.expunge(found)
        return found
