"""Pacing: how much course email the tick may hand to the workers now.

Large mailbox providers ask senders to avoid bursts and to pace per receiving provider, and a
new sending domain to warm up. Three limits, each off unless set:

- ``SEND_RATE``: course emails per minute in all;
- ``SEND_RATE_PER_PROVIDER``: per minute to each receiving provider: Google, Microsoft,
  Yahoo/AOL and Apple, known by the address's domain or, for a domain of its own (a practice
  hosted at Google), by its MX records (looked up by the tick, kept a week); any other domain
  is its own provider;
- ``WARMUP``: at most 50 the first day anything went out, doubling each day after.

Holds (``service.outbox.holds``) keep a provider's, or all, course email back; the groups
are ``service.outbox.providers``'.

What is held waits in the database as it was (``pending``, or ``retry_wait``), and goes out
in due order when there is room. Emails a person is waiting for (a confirmation, a note they
asked for, the therapist's answer) count against the limits but are never held. With no limit
and no hold, the tick claims exactly as before (one statement), so the 08:00 burst keeps its
speed.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from service.outbox.holds import COURSE
from service.outbox.providers import domain_of, providers
from service.settings import Settings
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    Reader,
    SendingHold,
)

log = logging.getLogger("coursemail.tick")

#: The warm-up's first day, doubled each day after.
WARMUP_FIRST_DAY = 50
#: Emails that went out (or may have): what the limits count.
WENT = (DeliveryStatus.SENT, DeliveryStatus.BOUNCED, DeliveryStatus.AMBIGUOUS)
IN_FLIGHT = (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)


@dataclass(frozen=True)
class Limits:
    """The pacing in force (from the settings); 0 is no limit."""

    per_minute: int = 0
    per_provider: int = 0
    warmup: bool = False
    #: seconds between the tick's passes: a pass takes at most its share of a minute, so a
    #: minute's emails are spread over it rather than sent in one burst
    interval: float = 60.0

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            per_minute=settings.SEND_RATE,
            per_provider=settings.SEND_RATE_PER_PROVIDER,
            warmup=settings.WARMUP,
            interval=settings.TICK_INTERVAL,
        )

    @property
    def any(self) -> bool:
        return bool(self.per_minute or self.per_provider or self.warmup)

    def share(self, per_minute: int) -> int:
        """What one pass may take of a per-minute limit (at least one)."""
        return max(1, math.ceil(per_minute * min(self.interval, 60.0) / 60.0))


NO_LIMITS = Limits()


#: A welcome this soon after the reader confirmed is a person waiting: it counts against the
#: limits but never waits for room (a hold still holds it).
WELCOME_GRACE = timedelta(minutes=15)
#: Ready course emails one pass reads at most, in chunks, looking for ones with room (a
#: provider that is full or held must not keep the others waiting behind it).
SCAN_CHUNK = 2000
SCAN_CHUNKS = 10
MayGo = Callable[[Any], bool]


def choose(
    session: Session,
    ready: ColumnElement[bool],
    *,
    now: datetime,
    limit: int,
    limits: Limits,
    held: Mapping[str, SendingHold],
    may_go: MayGo = lambda row: True,
) -> list[int]:
    """The ready deliveries the limits and holds allow now, in due order (ids).

    Emails a person is waiting for come first and are never held (they count). Course
    emails are then read in chunks, in due order, each taken when its provider has room and
    ``may_go`` (its reader's waking hours: a held email must not arrive at night) allows."""
    chosen = list(
        session.scalars(
            select(Delivery.id)
            .where(ready, Delivery.kind != DeliveryKind.STEP)
            .order_by(Delivery.id)
            .limit(limit)
        )
    )
    room = _Room.measure(session, now=now, limits=limits)
    for _ in chosen:
        room.take(None)
    if COURSE in held:
        return chosen
    after, waiting_for_room = 0, 0
    for _ in range(SCAN_CHUNKS):
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.step,
                Enrollment.created_at.label("enrolled_at"),
                Enrollment.course,
                Reader.email,
                Reader.timezone,
                Reader.send_hour,
            )
            .join(Reader, Reader.id == Delivery.reader_id)
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .where(ready, Delivery.kind == DeliveryKind.STEP, Delivery.id > after)
            .order_by(Delivery.id)
            .limit(SCAN_CHUNK)
        ).all()
        if not rows:
            break
        after = rows[-1].id
        group_of = providers(session, {domain_of(r.email) for r in rows})
        for row in rows:
            if len(chosen) >= limit:
                return chosen
            group = group_of[domain_of(row.email)]
            waiting = row.step == 0 and row.enrolled_at >= now - WELCOME_GRACE
            if group in held or not (waiting or room.allows(group)) or not may_go(row):
                waiting_for_room += 1
                continue
            chosen.append(row.id)
            room.take(group)
    if waiting_for_room:
        log.info(
            "%d course emails wait for room (pacing, a hold, or their night)", waiting_for_room
        )
    return chosen


class _Room:
    """How many more emails the limits allow this pass, overall and per provider group."""

    def __init__(self, limits: Limits, overall: int | None, last_minute: Counter[str]) -> None:
        self.overall = overall
        self.per_provider = limits.per_provider
        self.share = limits.share(limits.per_provider) if limits.per_provider else 0
        self.last_minute = last_minute
        self.taken: Counter[str] = Counter()

    @classmethod
    def measure(cls, session: Session, *, now: datetime, limits: Limits) -> _Room:
        overall: int | None = None
        last_minute: Counter[str] = Counter()
        if limits.per_minute or limits.per_provider:
            recent = _recent_domains(session, now=now)
            group_of = providers(session, recent)
            for domain, n in recent.items():
                last_minute[group_of[domain]] += n
            if limits.per_minute:
                left = limits.per_minute - sum(recent.values())
                overall = min(left, limits.share(limits.per_minute))
        if limits.warmup:
            left = warmup_cap(session, now=now) - went_today(session, now=now)
            overall = left if overall is None else min(overall, left)
        return cls(limits, overall, last_minute)

    def left(self) -> bool:
        """Whether anything more may go this pass."""
        return self.overall is None or self.overall > 0

    def allows(self, group: str) -> bool:
        if not self.left():
            return False
        if not self.per_provider:
            return True
        left = min(self.per_provider - self.last_minute[group], self.share)
        return self.taken[group] < left

    def take(self, group: str | None) -> None:
        if self.overall is not None:
            self.overall -= 1
        if group is not None:
            self.taken[group] += 1


def _counted(since: datetime) -> ColumnElement[bool]:
    """Emails that went out since ``since``, and those on their way now."""
    return or_(
        (Delivery.sent_at > since) & Delivery.status.in_(WENT), Delivery.status.in_(IN_FLIGHT)
    )


def _recent_domains(session: Session, *, now: datetime) -> Counter[str]:
    """Emails that went out in the last minute (or are on their way), by address domain."""
    emails = session.scalars(
        select(Reader.email)
        .join(Delivery, Delivery.reader_id == Reader.id)
        .where(_counted(now - timedelta(minutes=1)))
    )
    return Counter(domain_of(e) for e in emails)


def went_today(session: Session, *, now: datetime) -> int:
    """Emails that went out since midnight (UTC), or are on their way."""
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    return int(session.scalar(select(func.count(Delivery.id)).where(_counted(midnight))) or 0)


def warmup_cap(session: Session, *, now: datetime) -> int:
    """The warm-up's cap today: 50 on the first day anything went out, doubled each day."""
    first = session.scalar(select(func.min(Delivery.sent_at)).where(Delivery.status.in_(WENT)))
    days = 0 if first is None else max(0, (now.date() - first.date()).days)
    return WARMUP_FIRST_DAY * 2 ** min(days, 20)
