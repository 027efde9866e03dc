"""What production refuses to start with, each refusal naming the setting and saying what to
do: a secret that is short, of little variety or a placeholder; a desk password under 12
characters; a webhook secret under 24; an address readers' links point to that is not HTTPS;
no inbox for readers' replies. And a server started with no ``COURSEMAIL_ENV`` at all, which
would otherwise run in development mode (``/dev/mail`` open) rather than refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from service.variables import ConfigError

if TYPE_CHECKING:
    from service.settings import Settings

#: The shortest secret that signs links (64 hex characters is what the README suggests).
MIN_SECRET = 32
#: A secret of fewer different characters than this is a pattern, not a random value.
MIN_SECRET_VARIETY = 10
#: Words that say a value was copied from an example rather than generated.
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "secret", "example", "password")
MIN_DESK_PASSWORD = 12
MIN_WEBHOOK_SECRET = 24
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SECRET_HINT = 'python -c "import secrets; print(secrets.token_hex(32))"'


def check(settings: Settings) -> None:
    """Raise ``ConfigError`` for the first thing production must not run with."""
    _secret(settings.SECRET_KEY)
    _public_url(settings.PUBLIC_URL)
    if settings.ADMIN_PASSWORD and len(settings.ADMIN_PASSWORD) < MIN_DESK_PASSWORD:
        raise ConfigError(
            f"ADMIN_PASSWORD is too short for production: use {MIN_DESK_PASSWORD} characters or "
            "more (or set ADMIN_PASSWORD_HASH instead)"
        )
    basic_password = settings.INBOUND_BASIC_AUTH.partition(":")[2]
    for name, value in (
        ("INBOUND_WEBHOOK_SECRET", settings.INBOUND_WEBHOOK_SECRET),
        ("MAILGUN_SIGNING_KEY", settings.MAILGUN_SIGNING_KEY),
        ("INBOUND_BASIC_AUTH", basic_password),
    ):
        if value and len(value) < MIN_WEBHOOK_SECRET:
            raise ConfigError(
                f"{name} is too short for production: use {MIN_WEBHOOK_SECRET} characters or "
                f"more ({SECRET_HINT})"
            )
    if not settings.REPLY_KEY:
        raise ConfigError(
            "REPLY_KEY must be set in production: it seals readers' replies at rest "
            "(`coursemail keys new` prints one; keep a copy somewhere safe)"
        )
    if not settings.THERAPIST_EMAIL:
        raise ConfigError(
            "THERAPIST_EMAIL must be set in production: it is where readers' replies go (the "
            "course file's address is only an example)"
        )


def _secret(secret: str) -> None:
    lowered = secret.lower()
    if not secret or any(word in lowered for word in PLACEHOLDER_WORDS):
        raise ConfigError(
            f"SECRET_KEY must be set to a long random value in production ({SECRET_HINT})"
        )
    if len(secret) < MIN_SECRET:
        raise ConfigError(
            f"SECRET_KEY is too short for production: use {MIN_SECRET} characters or more "
            f"({SECRET_HINT})"
        )
    if len(set(secret)) < MIN_SECRET_VARIETY:
        raise ConfigError(
            f"SECRET_KEY has too little variety to be random: generate one ({SECRET_HINT})"
        )


def _public_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or parts.hostname in LOOPBACK_HOSTS:
        return
    raise ConfigError(
        f"PUBLIC_URL must be an https:// address in production (it is {url}): readers' links "
        "carry their tokens, and the desk's cookie is only sent over HTTPS"
    )


def looks_like_a_server(environ: Mapping[str, str], settings: Settings) -> str | None:
    """Why a start with no COURSEMAIL_ENV looks like a server rather than a developer's
    machine (a database that is not SQLite, and no ``instance/`` folder), or None."""
    if environ.get("COURSEMAIL_ENV", "").strip():
        return None
    if settings.DATABASE_URL.startswith("sqlite") or settings.instance_path.exists():
        return None
    return (
        "COURSEMAIL_ENV is not set, and this looks like a server rather than a developer's "
        f"machine (DATABASE_URL is not SQLite and there is no {settings.instance_path} folder): "
        "set COURSEMAIL_ENV=production, or COURSEMAIL_ENV=development to run it for development "
        "here (which opens /dev/mail)"
    )
