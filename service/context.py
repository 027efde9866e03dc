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
