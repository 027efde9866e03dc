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
from service.db import Database
from service.settings import Settings


@dataclass
class Context:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

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


def contact_for(settings: Settings, course: Course) -> Contact:
    """The course file's contact details and post link, with the deployment's settings
    (THERAPIST_NAME, THERAPIST_EMAIL, THERAPIST_PHONE, FORGIVENESS_POST_URL) winning."""
    name = settings.THERAPIST_NAME or course.contact_name
    note = settings.REPLIES_READ_NOTE or (
        f"{name} reads every reply personally, usually within two working days. "
        "Replies are not watched around the clock."
    )
    return Contact(
        therapist_name=name,
        therapist_email=settings.THERAPIST_EMAIL or course.contact_email,
        therapist_phone=settings.THERAPIST_PHONE or course.contact_phone,
        postal_address=settings.POSTAL_ADDRESS,
        forgiveness_post_url=settings.FORGIVENESS_POST_URL or course.post_url,
        blog_url=settings.BLOG_URL,
        replies_note=note,
    )
