"""Pacing: how much course email the tick may hand to the workers now.

Large mailbox providers ask senders to avoid bursts and to pace per receiving provider, and a
new sending domain to warm up. Three limits, each off unless set:

- ``SEND_RATE``: course emails per minute in all;
- ``SEND_RATE_PER_PROVIDER``: per minute to each receiving provider: Google, Microsoft,
  Yahoo/AOL and Apple, known by the address's domain or, for a domain of its own (a practice
  hosted at Google), by its MX records (looked up by the tick, kept a week); any other domain
  is its own provider;
- ``WARMUP``: at most 50 the first day anything went out, doubling each day after.

And two holds (``SendingHold``): all course email after too many complaints (until the
therapist resumes it on the desk), and one provider's for an hour after it refused us for our
setup or reputation.

What is held waits in the database as it was (``pending``, or ``retry_wait``), and goes out
in due order when there is room. Emails a person is waiting for (a confirmation, a note they
asked for, the therapist's answer) count against the limits but are never held. With no limit
and no hold, the tick claims exactly as before (one statement), so the 08:00 burst keeps its
speed.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.dns_lookup import BadName, Lookup, NoAnswerFor, Offline
from service.settings import Settings
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    Reader,
    ReaderEvent,
    ReceivingDomain,
    SendingHold,
)

log = logging.getLogger("coursemail.tick")

#: The hold on all course email.
COURSE = "course"


def spoken_provider(scope: str) -> str:
    """How the therapist's email names a held provider: a large one by name; any other
    (often one reader's own domain) without naming it."""
    return PROVIDERS.get(scope, "one smaller mail provider")


#: The providers pacing knows by name, and how the desk says them.
PROVIDERS = {
    "google": "Google (Gmail)",
    "microsoft": "Microsoft (Outlook, Hotmail)",
    "yahoo": "Yahoo and AOL",
    "apple": "Apple (iCloud)",
}
#: Address domains whose provider is known without asking DNS.
KNOWN_DOMAINS = {
    **dict.fromkeys(("gmail.com", "googlemail.com"), "google"),
    **dict.fromkeys(
        ("outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "outlook.fr"),
        "microsoft",
    ),
    **dict.fromkeys(
        ("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "aol.com", "aim.com"),
        "yahoo",
    ),
    **dict.fromkeys(("icloud.com", "me.com", "mac.com"), "apple"),
}
#: MX host names (their ending) that say who receives a domain's mail.
MX_ENDINGS = (
    ("google.com.", "google"),
    ("googlemail.com.", "google"),
    ("outlook.com.", "microsoft"),
    ("yahoodns.net.", "yahoo"),
    ("icloud.com.", "apple"),
)
#: How long a domain's provider, read from its MX, is trusted.
MX_KEPT = timedelta(days=7)
#: MX lookups one pass of the tick makes at most (each waits at most ``MX_TIMEOUT``).
MX_LOOKUPS_PER_PASS = 20
MX_TIMEOUT = 2.0
#: The warm-up's first day, doubled each day after.
WARMUP_FIRST_DAY = 50
#: How long a provider's mail waits after it refused us for our setup or reputation.
POLICY_PAUSE = timedelta(hours=1)
#: The complaint rate is read over this long, and only once this many emails went out.
COMPLAINT_WINDOW = timedelta(days=30)
COMPLAINT_MINIMUM_SENT = 200
#: A complaint rate the desk warns about, and one that pauses course email.
COMPLAINT_WARN = 0.001
COMPLAINT_PAUSE = 0.003
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


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def provider_for_mx(records: Iterable[str]) -> str | None:
    """The provider an MX answer's preferred hosts name (``"10 aspmx.l.google.com."``),
    if a known one: a backup MX at Google does not make a domain Google's."""
    parsed = []
    for record in records:
        parts = record.split()
        if len(parts) == 2 and parts[0].isdigit():
            parsed.append((int(parts[0]), parts[1].lower().rstrip(".") + "."))
    if not parsed:
        return None
    best = min(preference for preference, _ in parsed)
    found = {
        provider
        for preference, host in parsed
        if preference == best
        for ending, provider in MX_ENDINGS
        if host == ending or host.endswith("." + ending)
    }
    return found.pop() if len(found) == 1 else None


def providers(session: Session, domains: Iterable[str]) -> dict[str, str]:
    """Each domain's provider group: a known provider's name, or the domain itself."""
    wanted = set(domains)
    found = {d: KNOWN_DOMAINS[d] for d in wanted if d in KNOWN_DOMAINS}
    unknown = sorted(wanted - found.keys())
    for start in range(0, len(unknown), 500):
        chunk = unknown[start : start + 500]
        rows = session.execute(
            select(ReceivingDomain.domain, ReceivingDomain.provider).where(
                ReceivingDomain.domain.in_(chunk)
            )
        )
        found.update((domain, provider) for domain, provider in rows)
    return {d: found.get(d, d) for d in wanted}


def domains_to_learn(session: Session, *, now: datetime, limit: int) -> list[str]:
    """Domains of course email waiting to go whose provider is not known (or is stale)."""
    emails = session.scalars(
        select(Reader.email)
        .join(Delivery, Delivery.reader_id == Reader.id)
        .where(Delivery.kind == DeliveryKind.STEP, Delivery.status == DeliveryStatus.PENDING)
        .order_by(Delivery.id)
        .limit(2000)
    )
    domains = {domain_of(e) for e in emails} - KNOWN_DOMAINS.keys()
    if not domains:
        return []
    fresh = set(
        session.scalars(
            select(ReceivingDomain.domain).where(
                ReceivingDomain.domain.in_(sorted(domains)),
                ReceivingDomain.checked_at > now - MX_KEPT,
            )
        )
    )
    return sorted(domains - fresh)[:limit]


#: A domain whose name servers would not answer is asked again after this long (meanwhile it
#: is its own provider).
MX_RETRY = timedelta(days=1)


def look_up(domains: Sequence[str], lookup: Lookup) -> dict[str, tuple[str, bool]]:
    """Each domain's provider from its MX records (the domain itself when they name none),
    and whether the answer was whole. Stops when DNS does not answer at all (the next pass
    tries again); a name whose own servers fail is the domain itself, asked again later."""
    learned: dict[str, tuple[str, bool]] = {}
    for domain in domains:
        try:
            records = lookup(domain, "MX")
        except NoAnswerFor:
            learned[domain] = (domain, False)
            continue
        except Offline:
            break
        except BadName:
            records = []
        learned[domain] = (provider_for_mx(records) or domain, True)
    return learned


def remember(session: Session, learned: Mapping[str, tuple[str, bool]], *, now: datetime) -> None:
    for domain, (provider, whole) in learned.items():
        checked = now if whole else now - MX_KEPT + MX_RETRY
        session.merge(ReceivingDomain(domain=domain, provider=provider, checked_at=checked))


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


@dataclass(frozen=True)
class ComplaintRate:
    complaints: int
    sent: int

    @property
    def counted(self) -> bool:
        """Enough sent for the rate to mean something (providers read it the same way)."""
        return self.sent >= COMPLAINT_MINIMUM_SENT

    @property
    def rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0

    @property
    def state(self) -> str:
        """``low``, ``warn`` (0.1 % or more) or ``pause`` (0.3 % or more); ``few`` below the
        minimum sent."""
        if not self.counted:
            return "few"
        if self.rate >= COMPLAINT_PAUSE:
            return "pause"
        return "warn" if self.rate >= COMPLAINT_WARN else "low"

    @property
    def percent(self) -> str:
        return f"{self.rate * 100:.2f} %"


def complaint_rate(session: Session, *, now: datetime) -> ComplaintRate:
    """Complaints ("marked as spam") against course email sent, over the last 30 days."""
    since = now - COMPLAINT_WINDOW
    complaints = session.scalar(
        select(func.count(ReaderEvent.id)).where(
            ReaderEvent.kind == "marked_as_spam", ReaderEvent.at > since
        )
    )
    sent = session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.sent_at > since, Delivery.kind == DeliveryKind.STEP
        )
    )
    return ComplaintRate(complaints=int(complaints or 0), sent=int(sent or 0))


def after_complaint(session: Session, *, now: datetime) -> ComplaintRate:
    """Read the rate again after a complaint; at 0.3 % course email is held until resumed."""
    session.flush()
    rate = complaint_rate(session, now=now)
    if rate.state == "pause":
        reason = (
            f"{rate.complaints} complaints over {rate.sent} course emails in 30 days "
            f"({rate.percent}, the pause line is {COMPLAINT_PAUSE * 100:.1f} %)"
        )
        hold(session, COURSE, reason=reason, now=now, until=None)
    return rate


# --- choosing what to claim -------------------------------------------------------------


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
