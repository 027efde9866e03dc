"""What the desk says about course email going out: what is held back and why (a provider's
hour after a policy refusal; everything after too many complaints), the complaint rate of the
last 30 days against the lines providers draw, and the pacing in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.outbox import complaint_rate, holds, providers
from service.settings import Settings


@dataclass(frozen=True)
class HeldMail:
    scope: str
    #: "all course email", or the provider's name
    who: str
    #: None: until the therapist resumes it
    until: datetime | None
    reason: str
    started_at: datetime


@dataclass(frozen=True)
class SendingState:
    held: list[HeldMail]
    rate: complaint_rate.ComplaintRate
    pacing: list[str]

    @property
    def course_held(self) -> bool:
        return any(h.scope == holds.COURSE for h in self.held)

    @property
    def needs_her(self) -> bool:
        """Something the overview should lead with."""
        return bool(self.held) or self.rate.state in ("warn", "pause")


def sending_state(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    rate: complaint_rate.ComplaintRate | None = None,
) -> SendingState:
    """What holds course email and why, the complaint rate (``rate`` when already counted,
    as the tick's snapshot does for a large list) and the pacing in force."""
    held = [
        HeldMail(
            scope=hold.scope,
            who="all course email"
            if hold.scope == holds.COURSE
            else providers.PROVIDERS.get(hold.scope, hold.scope),
            until=hold.until,
            reason=hold.reason,
            started_at=hold.started_at,
        )
        for hold in sorted(holds.active_holds(session, now=now).values(), key=lambda h: h.scope)
    ]
    return SendingState(
        held=held,
        rate=rate or complaint_rate.complaint_rate(session, now=now),
        pacing=_pacing_words(settings),
    )


def _pacing_words(settings: Settings) -> list[str]:
    said = []
    if settings.SEND_RATE:
        said.append(f"at most {settings.SEND_RATE} course emails a minute (SEND_RATE)")
    if settings.SEND_RATE_PER_PROVIDER:
        said.append(
            f"at most {settings.SEND_RATE_PER_PROVIDER} a minute to each mail provider "
            "(SEND_RATE_PER_PROVIDER)"
        )
    if settings.WARMUP:
        said.append("warming up: 50 the first day, doubling each day (WARMUP)")
    return said
