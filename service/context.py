"""What the web app and the domain need, built lazily once per process: settings, clock,
database, Redis and its queues, tracked addresses.

The worker side extends this (``workers.runtime.Runtime``) with the SMTP transport and the
renderers; the web app holds a plain ``Context``. Tests build their own (a manual clock, a
private database and Redis) instead of patching anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from redis import Redis
from rq import Queue

from emails.course import Course, default_course
from emails.render import Contact
from service.addresses import Addresses
from service.clock import Clock, SystemClock
from service.settings import Settings
from service.store import sealing
from service.store.db import Database


@dataclass
class Context:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    def __post_init__(self) -> None:
        # readers' words are sealed and opened with this process's key (store.sealing)
        sealing.install(sealing.Sealer(self.settings.reply_keys))

    @cached_property
    def database(self) -> Database:
        return Database(self.settings.DATABASE_URL)

    @cached_property
    def redis(self) -> Redis:
        return Redis.from_url(self.settings.REDIS_URL)

    @cached_property
    def addresses(self) -> Addresses:
        return Addresses(self.settings.SECRET_KEY, self.settings.REPLY_DOMAIN)

    def queue(self, name: str) -> Queue:
        return Queue(name, connection=self.redis)

    def contact(self, course: Course | None = None) -> Contact:
        """The author's details for ``course`` (default: the shipped one)."""
        return contact_for(self.settings, course or default_course())


#: When replies are read, in the author's own voice: the welcome email says it once.
DEFAULT_REPLIES_NOTE = (
    "I read every reply myself, usually within two working days, but I don’t watch my inbox "
    "around the clock."
)


def contact_for(settings: Settings, course: Course) -> Contact:
    """The course file's contact details and post link, with the deployment's settings
    (THERAPIST_NAME, THERAPIST_EMAIL, THERAPIST_PHONE, FORGIVENESS_POST_URL) winning."""
    name = settings.THERAPIST_NAME or course.contact_name
    note = settings.REPLIES_READ_NOTE or DEFAULT_REPLIES_NOTE
    return Contact(
        therapist_name=name,
        therapist_email=settings.THERAPIST_EMAIL or course.contact_email,
        therapist_phone=settings.THERAPIST_PHONE or course.contact_phone,
        postal_address=settings.POSTAL_ADDRESS,
        forgiveness_post_url=settings.FORGIVENESS_POST_URL or course.post_url,
        blog_url=settings.BLOG_URL,
        replies_note=note,
        country_code=course.contact_country_code,
    )


def course_warnings(settings: Settings, course: Course) -> list[str]:
    """What a production start-up should say about the course: a post named without an
    address reaches readers as a title they cannot click."""
    found = []
    if (
        settings.is_production
        and course.post_title
        and not contact_for(settings, course).forgiveness_post_url
    ):
        found.append(
            f"the course names the post “{course.post_title}” but gives no address: readers "
            "see its title without a link. Set FORGIVENESS_POST_URL (or [post] url in "
            f"{course.path / 'course.toml'})"
        )
    return found
