"""One settings object, filled from environment variables.

Every field here has a row in the README's settings table (a test checks that). Development
defaults are safe and local; production refuses to start without the values that matter.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from emails.safety import SAFETY_DIR

ENVIRONMENTS = ("development", "production", "test")

#: The seed's own contact details: the shipped course defaults.
SEED_THERAPIST_NAME = "Lee Miller"
SEED_THERAPIST_EMAIL = "leemiller.therapist@gmail.com"
SEED_THERAPIST_PHONE = "(310) 614-0323"

REPLY_MODES = ("tracked", "direct")

#: A placeholder that makes a missing postal address obvious in development emails.
POSTAL_ADDRESS_PLACEHOLDER = "(postal address not set: set POSTAL_ADDRESS)"


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    DATABASE_URL: str
    REDIS_URL: str
    SMTP_URL: str
    PUBLIC_URL: str
    PORT: int
    SECRET_KEY: str
    COURSEMAIL_ENV: str
    MAIL_FROM: str
    THERAPIST_NAME: str
    THERAPIST_EMAIL: str
    THERAPIST_PHONE: str
    POSTAL_ADDRESS: str
    BLOG_URL: str
    FORGIVENESS_POST_URL: str
    REPLY_DOMAIN: str
    COURSEMAIL_TIME_SCALE: float
    DISPATCH_INTERVAL: float
    ADMIN_USERNAME: str
    ADMIN_PASSWORD: str
    INBOUND_SMTP_HOST: str
    INBOUND_SMTP_PORT: int
    INBOUND_TLS_CERT: Path | None
    INBOUND_TLS_KEY: Path | None
    TRUSTED_PROXIES: int
    REPLY_MODE: str
    INBOUND_MAX_BYTES: int
    INBOUND_WEBHOOK_SECRET: str
    MAILGUN_SIGNING_KEY: str
    INBOUND_BASIC_AUTH: str
    CRISIS_PHRASES_FILE: Path
    CRISIS_REPLY_FILE: Path
    REPLIES_READ_NOTE: str

    @property
    def tracked_replies(self) -> bool:
        return self.REPLY_MODE == "tracked"

    @property
    def is_production(self) -> bool:
        return self.COURSEMAIL_ENV == "production"

    @property
    def caught_mail(self) -> Path:
        """Where the development mail catcher keeps each email it receives (/dev/mail)."""
        return self.instance_path / "mail"

    @property
    def mail_domain(self) -> str:
        """Domain for Message-IDs: the sender's own domain."""
        return self.MAIL_FROM.rpartition("@")[2] or self.REPLY_DOMAIN

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``), then apply ``overrides``.

        Raises ``ConfigError`` naming the variable when a value is malformed, or when
        production is missing something it must have.
        """
        env: dict[str, str] = dict(os.environ if environ is None else environ)
        for key, value in (overrides or {}).items():
            env[key] = str(value)

        def get(name: str, default: str = "") -> str:
            value = env.get(name, "").strip()
            return value if value else default

        cm_env = get("COURSEMAIL_ENV", "development").lower()
        if cm_env not in ENVIRONMENTS:
            raise ConfigError(
                f"COURSEMAIL_ENV must be one of {', '.join(ENVIRONMENTS)}; got {cm_env!r}"
            )
        instance = Path(get("COURSEMAIL_INSTANCE", str(Path.cwd() / "instance"))).resolve()
        port = _int("PORT", get("PORT", "5000"), minimum=1, maximum=65535)
        reply_domain = get("REPLY_DOMAIN", "coursemail.localhost").lower()
        _check_domain("REPLY_DOMAIN", reply_domain)

        therapist_name = _line("THERAPIST_NAME", get("THERAPIST_NAME", SEED_THERAPIST_NAME))
        reply_mode = get("REPLY_MODE", "tracked").lower()
        if reply_mode not in REPLY_MODES:
            raise ConfigError(f"REPLY_MODE must be tracked or direct; got {reply_mode!r}")
        basic_auth = get("INBOUND_BASIC_AUTH")
        if basic_auth and ":" not in basic_auth:
            raise ConfigError("INBOUND_BASIC_AUTH must look like username:password")

        settings = cls(
            instance_path=instance,
            DATABASE_URL=_database_url(get("DATABASE_URL"), instance),
            REDIS_URL=_redis_url(get("REDIS_URL", f"unix://{instance / 'redis.sock'}")),
            SMTP_URL=_smtp_url(get("SMTP_URL", "smtp://127.0.0.1:1025")),
            PUBLIC_URL=_public_url(get("PUBLIC_URL", f"http://127.0.0.1:{port}")),
            PORT=port,
            SECRET_KEY=get("SECRET_KEY"),
            COURSEMAIL_ENV=cm_env,
            MAIL_FROM=_address("MAIL_FROM", get("MAIL_FROM", f"course@{reply_domain}")),
            THERAPIST_NAME=therapist_name,
            THERAPIST_EMAIL=_address(
                "THERAPIST_EMAIL", get("THERAPIST_EMAIL", SEED_THERAPIST_EMAIL)
            ),
            THERAPIST_PHONE=_line("THERAPIST_PHONE", get("THERAPIST_PHONE", SEED_THERAPIST_PHONE)),
            POSTAL_ADDRESS=get("POSTAL_ADDRESS"),
            BLOG_URL=_optional_url("BLOG_URL", get("BLOG_URL")),
            FORGIVENESS_POST_URL=_optional_url("FORGIVENESS_POST_URL", get("FORGIVENESS_POST_URL")),
            REPLY_DOMAIN=reply_domain,
            COURSEMAIL_TIME_SCALE=_positive_float(
                "COURSEMAIL_TIME_SCALE", get("COURSEMAIL_TIME_SCALE", "1")
            ),
            DISPATCH_INTERVAL=_positive_float("DISPATCH_INTERVAL", get("DISPATCH_INTERVAL", "5")),
            ADMIN_USERNAME=get("ADMIN_USERNAME", "admin"),
            ADMIN_PASSWORD=get("ADMIN_PASSWORD"),
            INBOUND_SMTP_HOST=get("INBOUND_SMTP_HOST", "127.0.0.1"),
            INBOUND_SMTP_PORT=_int(
                "INBOUND_SMTP_PORT", get("INBOUND_SMTP_PORT", "2525"), minimum=1, maximum=65535
            ),
            INBOUND_TLS_CERT=_optional_file("INBOUND_TLS_CERT", get("INBOUND_TLS_CERT")),
            INBOUND_TLS_KEY=_optional_file("INBOUND_TLS_KEY", get("INBOUND_TLS_KEY")),
            TRUSTED_PROXIES=_int(
                "TRUSTED_PROXIES", get("TRUSTED_PROXIES", "0"), minimum=0, maximum=5
            ),
            REPLY_MODE=reply_mode,
            INBOUND_MAX_BYTES=_int(
                "INBOUND_MAX_BYTES",
                get("INBOUND_MAX_BYTES", str(25 * 1024 * 1024)),
                minimum=64 * 1024,
                maximum=200 * 1024 * 1024,
            ),
            INBOUND_WEBHOOK_SECRET=get("INBOUND_WEBHOOK_SECRET"),
            MAILGUN_SIGNING_KEY=get("MAILGUN_SIGNING_KEY"),
            INBOUND_BASIC_AUTH=basic_auth,
            CRISIS_PHRASES_FILE=_readable_file(
                "CRISIS_PHRASES_FILE",
                get("CRISIS_PHRASES_FILE", str(SAFETY_DIR / "crisis-phrases.txt")),
            ),
            CRISIS_REPLY_FILE=_readable_file(
                "CRISIS_REPLY_FILE", get("CRISIS_REPLY_FILE", str(SAFETY_DIR / "crisis-reply.txt"))
            ),
            REPLIES_READ_NOTE=_line(
                "REPLIES_READ_NOTE",
                get(
                    "REPLIES_READ_NOTE",
                    f"{therapist_name} reads every reply personally, usually within two "
                    "working days. Replies are not watched around the clock.",
                ),
            ),
        )
        return settings._checked()

    def _checked(self) -> Settings:
        """Apply production rules, and give development a stable secret and an address line."""
        if (self.INBOUND_TLS_CERT is None) != (self.INBOUND_TLS_KEY is None):
            raise ConfigError(
                "INBOUND_TLS_CERT and INBOUND_TLS_KEY go together: set both (or neither)"
            )
        if self.is_production:
            if not self.SECRET_KEY or self.SECRET_KEY.lower() in DEFAULT_SECRETS:
                raise ConfigError(
                    "SECRET_KEY must be set to a long random value in production "
                    '(python -c "import secrets; print(secrets.token_hex(32))")'
                )
            if len(self.SECRET_KEY) < 16:
                raise ConfigError("SECRET_KEY is too short for production: use 32+ characters")
            if not self.POSTAL_ADDRESS:
                raise ConfigError(
                    "POSTAL_ADDRESS must be set in production: every email's footer shows "
                    "the sender's postal address (anti-spam law requires it)"
                )
            if not self.ADMIN_PASSWORD:
                raise ConfigError("ADMIN_PASSWORD must be set in production")
            if self.tracked_replies and self.REPLY_DOMAIN.endswith(".localhost"):
                raise ConfigError(
                    "REPLY_DOMAIN must be a real domain whose MX points at the inbound listener "
                    "when REPLY_MODE=tracked (or set REPLY_MODE=direct to send replies straight "
                    "to THERAPIST_EMAIL)"
                )
            if self.COURSEMAIL_TIME_SCALE != 1:
                raise ConfigError(
                    "COURSEMAIL_TIME_SCALE is a demo setting and must be 1 in production"
                )
            return self
        changes: dict[str, object] = {}
        if not self.SECRET_KEY:
            changes["SECRET_KEY"] = _instance_secret(self.instance_path)
        if not self.POSTAL_ADDRESS:
            changes["POSTAL_ADDRESS"] = POSTAL_ADDRESS_PLACEHOLDER
        if not changes:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return type(self)(**values)


#: Placeholder secrets (ours in .env.example, and the usual suspects); production refuses them.
DEFAULT_SECRETS = frozenset({"dev", "change-me", "changeme", "secret", "development"})


def _instance_secret(instance: Path) -> str:
    """Generate the development secret once into ``instance/``, so every process agrees.

    Tokens signed by the web process are checked by workers and by the next restart; a
    secret made fresh per process would break every link in every email already sent.
    """
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    candidate = secrets.token_hex(32)
    try:
        # O_EXCL: if two processes start at once, exactly one writes and both read its value.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(candidate)
    return candidate


def _int(name: str, raw: str, *, minimum: int, maximum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number; got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}; got {value}")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number; got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number; got {raw!r}")
    return value


def _line(name: str, value: str) -> str:
    if any(ch in value for ch in "\r\n\0"):
        raise ConfigError(f"{name} must be a single line of text")
    return value


def _address(name: str, value: str) -> str:
    _line(name, value)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or " " in value or "<" in value:
        raise ConfigError(
            f"{name} must be a bare email address like name@example.org; got {value!r}"
        )
    return value


def _check_domain(name: str, value: str) -> None:
    if not value or any(ch in value for ch in " @/:\r\n\0") or "." not in value:
        raise ConfigError(f"{name} must be a domain name like mail.example.org; got {value!r}")


def _database_url(raw: str, instance: Path) -> str:
    if not raw:
        return f"sqlite:///{instance / 'coursemail.db'}"
    if raw.startswith("postgres://"):  # Heroku-style spelling SQLAlchemy does not accept
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    if not raw.startswith(("sqlite:", "postgresql")):
        raise ConfigError(
            f"DATABASE_URL must be a sqlite:/// or postgresql:// URL; got {raw.split(':')[0]!r}"
        )
    return raw


def _redis_url(raw: str) -> str:
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://; got {raw!r}")
    return raw


def _smtp_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            f"SMTP_URL must look like smtp://user:pass@host:port or smtps://host:465; got {raw!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"SMTP_URL has an invalid port: {raw!r}") from None
    return raw


def _public_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"PUBLIC_URL must be an http(s) URL like https://example.org; got {raw!r}"
        )
    return raw.rstrip("/")


def _readable_file(name: str, raw: str) -> Path:
    path = Path(raw).expanduser()
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise ConfigError(f"{name} must name a readable file; {raw!r}: {error.strerror}") from None
    if path.is_dir():
        raise ConfigError(f"{name} must name a file, not a folder; got {raw!r}")
    return path.resolve()


def _optional_file(name: str, raw: str) -> Path | None:
    return _readable_file(name, raw) if raw else None


def _optional_url(name: str, raw: str) -> str:
    if raw and urlsplit(raw).scheme not in ("http", "https"):
        raise ConfigError(f"{name} must be an http(s) URL; got {raw!r}")
    return raw
