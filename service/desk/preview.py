"""Every email of the course as a sample reader gets it, and when each would arrive.

The desk's course page and its "Send me a test" use the same sample (``sample_parts``), so
what the therapist sees is what the test brings to their inbox: the same renderer, headers
and links as a real email, for a reader called Sam.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from emails.course import Course
from emails.message import Envelope, Routing, build_message, confirmation_parts, course_parts
from emails.render import Rendered, Renderer
from service.schedule import next_due
from service.settings import Settings

#: The sample reader's first name and address (``.invalid``: never a real inbox).
SAMPLE_NAME = "Sam"
SAMPLE_ADDRESS = "sam@example.invalid"
#: What a test email's subject starts with.
TEST_PREFIX = "[TEST] "


def title_of(course: Course, which: int | None) -> str:
    """ "Step 3: Don’t stuff your feelings", "The welcome", "The confirmation"."""
    name = course.email_name(which)
    step = course.step(which) if which is not None else None
    return f"{name}: {step.name}" if step is not None and step.name else name


def sample_parts(
    renderer: Renderer,
    settings: Settings,
    which: int | None,
    *,
    to: str = SAMPLE_ADDRESS,
    now: datetime,
    test: bool = False,
    discreet: bool = False,
) -> tuple[Rendered, Envelope]:
    """Email ``which`` (None: the confirmation) for the sample reader, addressed to ``to``;
    with ``test``, its subject starts with ``[TEST]``; with ``discreet``, as a reader who
    asked for discretion gets it."""
    tracked = f"reply+sample@{settings.REPLY_DOMAIN}" if settings.tracked_replies else None
    routing = Routing(
        to_address=to,
        first_name=SAMPLE_NAME,
        from_address=settings.MAIL_FROM,
        message_id=make_msgid(domain=settings.mail_domain),
        date=now,
        reply_address=tracked,
        discreet=discreet,
    )
    link = f"{settings.PUBLIC_URL}/sample-link"
    if which is None:
        rendered, envelope = confirmation_parts(renderer, routing, confirm_url=link)
    else:
        rendered, envelope = course_parts(
            renderer,
            which,
            routing,
            unsubscribe_url=link,
            unsubscribe_address=None,
            list_domain=settings.REPLY_DOMAIN,
        )
    if test:
        rendered = replace(rendered, subject=TEST_PREFIX + rendered.subject)
    return rendered, envelope


@dataclass(frozen=True)
class Sample:
    title: str
    subject: str
    preview_line: str
    html: str
    text: str
    headers: list[tuple[str, str]]


def sample(
    renderer: Renderer,
    settings: Settings,
    which: int | None,
    *,
    now: datetime,
    discreet: bool = False,
) -> Sample:
    rendered, envelope = sample_parts(renderer, settings, which, now=now, discreet=discreet)
    message = build_message(rendered, envelope)
    step = renderer.course.confirmation_email if which is None else renderer.course.step(which)
    plan = renderer.course.discreet
    preview_line = (step.discreet_preview or plan.preview) if discreet else step.preview
    return Sample(
        title=title_of(renderer.course, which),
        subject=rendered.subject,
        preview_line=preview_line,
        html=rendered.html,
        text=rendered.text,
        headers=[(k, str(v)) for k, v in message.items() if k.lower() != "content-type"],
    )


@dataclass(frozen=True)
class Planned:
    title: str
    utc: datetime
    local: datetime


def plan(course: Course, zone: ZoneInfo, signed_up: datetime) -> list[Planned]:
    """When each email reaches a reader in ``zone`` who signs up (and confirms) at
    ``signed_up``: the course's send hour on each step's local day, daylight saving
    included (``schedule.next_due``, as the engine computes it)."""
    found = [Planned("The confirmation email", signed_up, signed_up.astimezone(zone))]
    at = signed_up
    for step in course.steps:
        at = next_due(
            now=at,
            delay_days=step.delay_days,
            send_hour=course.send_hour,
            zone=zone,
            weekends=course.weekends,
        )
        found.append(Planned(title_of(course, step.index), at, at.astimezone(zone)))
    return found
