"""Turn a test's settings back into environment variables, for processes and app factories."""

from __future__ import annotations

import os

from service.settings import Settings

#: The settings a test's processes need to share the test's database, Redis and SMTP sink.
SHARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_URL",
    "SECRET_KEY",
    "THERAPIST_EMAIL",
    "POSTAL_ADDRESS",
    "PUBLIC_URL",
    "REPLY_DOMAIN",
    "MAIL_FROM",
)


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a process a test starts: this one's, minus any coursemail or
    database settings of its own, plus the test's settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("COURSEMAIL", "DATABASE"))}
    return {**base, **settings_env(settings, **extra)}


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    values = {name: str(getattr(settings, name)) for name in SHARED}
    values.update(COURSEMAIL_ENV="test", COURSEMAIL_INSTANCE=str(settings.instance_path))
    values.update(extra)
    return values
