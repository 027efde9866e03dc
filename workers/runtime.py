"""What a worker process needs, built lazily once per process: settings, clock, database,
Redis, renderers and the mail transport.

RQ jobs receive ids only; they find everything else here. Tests install their own runtime
(a manual clock, a private database and Redis) instead of patching anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from redis import Redis
from rq import Queue

from emails.course import Course
from emails.render import Contact, Renderer
from service.addresses import Addresses
from service.clock import Clock, SystemClock
from service.db import Database
from service.settings import Settings
from workers.transport import SMTPTransport, Transport

#: Confirmation emails wait in their own queue so a big course batch never delays them.
QUEUE_TRANSACTIONAL = "coursemail-transactional"
QUEUE_COURSE = "coursemail-course"
#: Workers listen in this order: a person waiting for their confirmation comes first.
QUEUES = (QUEUE_TRANSACTIONAL, QUEUE_COURSE)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    transport_factory: Callable[[], Transport] | None = None
    _renderers: dict[str, Renderer] = field(default_factory=dict, repr=False)

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

    def make_transport(self) -> Transport:
        if self.transport_factory is not None:
            return self.transport_factory()
        return SMTPTransport(self.settings.SMTP_URL)

    @property
    def contact(self) -> Contact:
        s = self.settings
        return Contact(
            therapist_name=s.THERAPIST_NAME,
            therapist_email=s.THERAPIST_EMAIL,
            therapist_phone=s.THERAPIST_PHONE,
            postal_address=s.POSTAL_ADDRESS,
            forgiveness_post_url=s.FORGIVENESS_POST_URL,
            blog_url=s.BLOG_URL,
            replies_note=s.REPLIES_READ_NOTE,
        )

    def renderer(self, course: Course) -> Renderer:
        if course.slug not in self._renderers:
            self._renderers[course.slug] = Renderer(course, self.contact)
        return self._renderers[course.slug]


_current: Runtime | None = None
_lock = threading.Lock()


def current() -> Runtime:
    """This process's runtime, built from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Runtime(Settings.from_env())
        return _current


def install(runtime: Runtime | None) -> None:
    """Use ``runtime`` for this process (tests, the CLI); None forgets it."""
    global _current
    with _lock:
        _current = runtime
