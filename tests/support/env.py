"""Turn a test's settings back into environment variables, for processes and app factories."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from service.settings import Settings

#: What production needs to start, each value strong enough to pass its checks.
PRODUCTION = {
    "COURSEMAIL_ENV": "production",
    "SECRET_KEY": "9f2c61d0a4b87e35c1f09d6a2e4b7c80d3f5a1e69b2c4d7e",
    "POSTAL_ADDRESS": "1 Main St, Springfield",
    "ADMIN_PASSWORD": "a long admin password",
    "REPLY_DOMAIN": "reply.example.org",
    "PUBLIC_URL": "https://course.example.org",
    "THERAPIST_EMAIL": "lee@example.org",
    "REPLY_KEY": "a0xrRVpWd2hUTm9jUGFwUXJVdkZ3M2I5RG1qWTVlS0g=",
}

#: The settings a test's processes need to share the test's database, Redis and SMTP sink.
SHARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_URL",
    "SECRET_KEY",
    "REPLY_KEY",
    "THERAPIST_EMAIL",
    "POSTAL_ADDRESS",
    "PUBLIC_URL",
    "REPLY_DOMAIN",
    "MAIL_FROM",
    "REPLY_FORWARD",
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


#: Environment variables of ours: a process a test starts must not inherit the machine's.
OUR_VARIABLES = (
    "COURSEMAIL_",
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_URL",
    "PORT",
    "PUBLIC_URL",
    "SECRET_KEY",
    "MAIL_FROM",
    "THERAPIST_",
    "POSTAL_ADDRESS",
    "REPLY",  # REPLY_DOMAIN, REPLY_MODE, REPLIES_READ_NOTE
    "MAILGUN_",
    "CRISIS_",
    "TICK_INTERVAL",
    "TRUSTED_PROXIES",
    "EMBED_ORIGINS",
    "WORKERS",
    "BIND",
    "INBOUND_",
    "ADMIN_",
    "BLOG_URL",
    "FORGIVENESS_POST_URL",
    "DKIM_",
)


def clean_env(**values: str) -> dict[str, str]:
    """The machine's environment without any of ours, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OUR_VARIABLES)}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(values)
    return env
