"""What a worker process needs: the service's context (settings, clock, database, Redis,
tracked addresses) plus the mail transport and the renderers, built lazily once per process.

RQ jobs receive ids only; they find everything else here. Tests install their own runtime
(a manual clock, a private database and Redis) instead of patching anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from emails.course import Course
from emails.render import Renderer
from service.context import Context
from service.settings import Settings
from workers.signing import Signer, SigningTransport
from workers.transport import SMTPTransport, Transport


@dataclass
class Runtime(Context):
    transport_factory: Callable[[], Transport] | None = None
    _renderers: dict[tuple[str, str], Renderer] = field(default_factory=dict, repr=False)
    _signer: tuple[Settings | None, Signer | None] = field(default=(None, None), repr=False)

    def make_transport(self) -> Transport:
        """The way to the relay; every message it carries is DKIM-signed when a key is set."""
        if self.transport_factory is not None:
            inner = self.transport_factory()
        else:
            inner = SMTPTransport(self.settings.SMTP_URL, helo_name=self.settings.helo_name)
        if self._signer[0] is not self.settings:  # read the keys once per settings
            self._signer = (self.settings, Signer.from_settings(self.settings))
        signer = self._signer[1]
        return inner if signer is None else SigningTransport(inner, signer)

    def renderer(self, course: Course) -> Renderer:
        key = (course.slug, course.revision)
        if key not in self._renderers:
            self._renderers[key] = Renderer(course, self.contact(course))
        return self._renderers[key]


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
