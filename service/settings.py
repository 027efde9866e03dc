"""One settings object, filled from environment variables.

Every field here has a row in the README's settings table (a test checks that). Development
defaults are safe and local; production refuses to start without the values that matter.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emails.safety import SAFETY_DIR

ENVIRONMENTS = ("development", "production", "test")

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
        # earlier values fill later defaults: {COURSEMAIL_INSTANCE}, {PORT}, {REPLY_DOMAIN}
        known: dict[str, object] = {"cwd": Path.cwd(), "safety": SAFETY_DIR}
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name, "").strip() or var.default.format(**known)
            known[var.name] = values[var.field or var.name] = var.parse(var.name, raw)
        return cls(**values)._checked()

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


def _int(name: str, raw: str, *, minimum: int = 0, maximum: int = 2**31) -> int:
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


def _database_url(name: str, raw: str) -> str:
    if raw.startswith("postgres://"):  # Heroku-style spelling SQLAlchemy does not accept
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    if not raw.startswith(("sqlite:", "postgresql")):
        raise ConfigError(
            f"DATABASE_URL must be a sqlite:/// or postgresql:// URL; got {raw.split(':')[0]!r}"
        )
    return raw


def _redis_url(name: str, raw: str) -> str:
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://; got {raw!r}")
    return raw


def _smtp_url(name: str, raw: str) -> str:
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


def _public_url(name: str, raw: str) -> str:
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


def _between(minimum: int, maximum: int) -> Parser:
    return lambda name, raw: _int(name, raw, minimum=minimum, maximum=maximum)


def _one_of(choices: tuple[str, ...], spelled: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        if raw.lower() not in choices:
            raise ConfigError(f"{name} must be {spelled}; got {raw!r}")
        return raw.lower()

    return parse


def _domain(name: str, raw: str) -> str:
    _check_domain(name, raw.lower())
    return raw.lower()


def _optional_address(name: str, raw: str) -> str:
    return _address(name, raw) if raw else ""


def _user_password(name: str, raw: str) -> str:
    if raw and ":" not in raw:
        raise ConfigError(f"{name} must look like username:password")
    return raw


def _text(name: str, raw: str) -> str:
    return raw


def _folder(name: str, raw: str) -> Path:
    return Path(raw).expanduser().resolve()


Parser = Callable[[str, str], Any]
_ENVS = ", ".join(ENVIRONMENTS)


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, its default (which may name earlier values, as
    ``{PORT}``), how it is read, and the field it fills when that is not its own name."""

    name: str
    default: str
    parse: Parser
    field: str = ""


#: Every setting, in the order they are read. The README's table documents each (tested).
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "COURSEMAIL_ENV", "development", _one_of(ENVIRONMENTS, "one of " + ", ".join(ENVIRONMENTS))
    ),
    Variable(
        "COURSEMAIL_INSTANCE", "{cwd}/instance", lambda _, raw: Path(raw).resolve(), "instance_path"
    ),
    Variable("PORT", "5000", _between(1, 65535)),
    Variable("REPLY_DOMAIN", "coursemail.localhost", _domain),
    Variable(
        "DATABASE_URL",
        "sqlite:///{COURSEMAIL_INSTANCE}/coursemail.db",
        _database_url,
    ),
    Variable("REDIS_URL", "unix://{COURSEMAIL_INSTANCE}/redis.sock", _redis_url),
    Variable("SMTP_URL", "smtp://127.0.0.1:1025", _smtp_url),
    Variable("PUBLIC_URL", "http://127.0.0.1:{PORT}", _public_url),
    Variable("SECRET_KEY", "", _text),
    Variable("MAIL_FROM", "course@{REPLY_DOMAIN}", _address),
    # the author's details: empty means the course's own (its course.toml [contact])
    Variable("THERAPIST_NAME", "", _line),
    Variable("THERAPIST_EMAIL", "", _optional_address),
    Variable("THERAPIST_PHONE", "", _line),
    Variable("POSTAL_ADDRESS", "", _text),
    Variable("BLOG_URL", "", _optional_url),
    # empty means the course's own (its course.toml [post] url)
    Variable("FORGIVENESS_POST_URL", "", _optional_url),
    Variable("COURSEMAIL_TIME_SCALE", "1", _positive_float),
    Variable("DISPATCH_INTERVAL", "5", _positive_float),
    Variable("ADMIN_USERNAME", "admin", _text),
    Variable("ADMIN_PASSWORD", "", _text),
    Variable("INBOUND_SMTP_HOST", "127.0.0.1", _text),
    Variable("INBOUND_SMTP_PORT", "2525", _between(1, 65535)),
    Variable("INBOUND_TLS_CERT", "", _optional_file),
    Variable("INBOUND_TLS_KEY", "", _optional_file),
    Variable("TRUSTED_PROXIES", "0", _between(0, 5)),
    Variable("REPLY_MODE", "tracked", _one_of(REPLY_MODES, "tracked or direct")),
    Variable("INBOUND_MAX_BYTES", str(25 * 1024 * 1024), _between(64 * 1024, 200 * 1024 * 1024)),
    Variable("INBOUND_WEBHOOK_SECRET", "", _text),
    Variable("MAILGUN_SIGNING_KEY", "", _text),
    Variable("INBOUND_BASIC_AUTH", "", _user_password),
    Variable("CRISIS_PHRASES_FILE", "{safety}/crisis-phrases.txt", _readable_file),
    Variable("CRISIS_REPLY_FILE", "{safety}/crisis-reply.txt", _readable_file),
    # empty means "<the author> reads every reply personally, ..." (service.context)
    Variable("REPLIES_READ_NOTE", "", _line),
)
