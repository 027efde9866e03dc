"""Every environment variable coursemail reads: its default and how its text is read.

One row per variable (``VARIABLES``), in the order they are read, so a default can name an
earlier value (``{PORT}``, ``{REPLY_DOMAIN}``, ``{COURSEMAIL_INSTANCE}``). Each parser takes
the variable's name and its text and returns the value, or raises ``ConfigError`` with a
message that names the variable and says what a good value looks like.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emails.course import is_time_zone


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


ENVIRONMENTS = ("development", "production", "test")
REPLY_MODES = ("tracked", "direct")
#: What reaches the therapist's inbox of a reply: all of it, a notice, or nothing.
REPLY_FORWARDS = ("full", "notify", "off")


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


def _optional_zone(name: str, value: str) -> str:
    if value and not is_time_zone(value):
        raise ConfigError(f"{name} must be a time zone such as America/New_York; got {value!r}")
    return value


def _fernet_keys(name: str, value: str) -> str:
    """One Fernet key, or several separated by commas (the first seals; all open)."""
    import base64
    import binascii

    for key in (k.strip() for k in value.split(",") if k.strip()):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ConfigError(
                f"{name} must be Fernet keys (32 url-safe base64 bytes each), separated by "
                "commas: `coursemail keys new` prints one"
            )
    return ",".join(k.strip() for k in value.split(",") if k.strip())


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


def _password_hash(name: str, raw: str) -> str:
    if raw and not raw.startswith(("$argon2id$", "scrypt:", "pbkdf2:")):
        raise ConfigError(
            f"{name} must be an argon2id hash ($argon2id$…) or a Werkzeug one (scrypt:… or "
            'pbkdf2:…); make one with python -c "from argon2 import PasswordHasher; '
            "print(PasswordHasher().hash(input('password: ')))\""
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


def _selector(name: str, raw: str) -> str:
    """A DKIM selector: DNS labels (RFC 6376 3.1)."""
    labels = raw.split(".")
    if not raw or not all(
        re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", x) for x in labels
    ):
        raise ConfigError(f"{name} must be a DNS label such as coursemail or s2026; got {raw!r}")
    return raw.lower()


def _nameserver(name: str, raw: str) -> str:
    """Empty (the system's resolver), or an IP address with an optional port."""
    if not raw:
        return ""
    host, _, port = raw.rpartition(":") if raw.count(":") == 1 else (raw, "", "")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"{name} must be an IP address, optionally with :port; got {raw!r}"
        ) from None
    if port and not (port.isdecimal() and port.isascii() and 0 < int(port) < 65536):
        raise ConfigError(f"{name}'s port must be 1 to 65535; got {raw!r}")
    return raw


def _optional_url(name: str, raw: str) -> str:
    if raw and urlsplit(raw).scheme not in ("http", "https"):
        raise ConfigError(f"{name} must be an http(s) URL; got {raw!r}")
    return raw


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower case; None if it has none."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    suffix = f":{port}" if port and port != default else ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}{suffix}"


def _origins(name: str, raw: str) -> tuple[str, ...]:
    found = []
    for item in raw.replace(",", " ").split():
        origin = origin_of(item)
        if origin is None or urlsplit(item).path.strip("/") or urlsplit(item).query:
            raise ConfigError(
                f"{name} lists web sites as https://blog.example.org (scheme and host, no "
                f"path), separated by commas; got {item!r}"
            )
        found.append(origin)
    return tuple(found)


def _between(minimum: int, maximum: int) -> Parser:
    return lambda name, raw: _int(name, raw, minimum=minimum, maximum=maximum)


def _one_of(choices: tuple[str, ...], spelled: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        if raw.lower() not in choices:
            raise ConfigError(f"{name} must be {spelled}; got {raw!r}")
        return raw.lower()

    return parse


def _flag(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise ConfigError(f"{name} must be true or false; got {raw!r}")


def _domain(name: str, raw: str) -> str:
    _check_domain(name, raw.lower())
    return raw.lower()


def _optional_domain(name: str, raw: str) -> str:
    return _domain(name, raw) if raw else ""


def _optional_address(name: str, raw: str) -> str:
    return _address(name, raw) if raw else ""


def _user_password(name: str, raw: str) -> str:
    if raw and ":" not in raw:
        raise ConfigError(f"{name} must look like username:password")
    return raw


def _text(name: str, raw: str) -> str:
    return raw


def _folder(name: str, raw: str) -> Path:
    return Path(raw).resolve()


Parser = Callable[[str, str], Any]


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
    Variable("COURSEMAIL_INSTANCE", "{cwd}/instance", _folder, "instance_path"),
    Variable("PORT", "5000", _between(1, 65535)),
    Variable("REPLY_DOMAIN", "coursemail.localhost", _domain),
    Variable("DATABASE_URL", "sqlite:///{COURSEMAIL_INSTANCE}/coursemail.db", _database_url),
    Variable("REDIS_URL", "unix://{COURSEMAIL_INSTANCE}/redis.sock", _redis_url),
    Variable("SMTP_URL", "smtp://127.0.0.1:1025", _smtp_url),
    Variable("PUBLIC_URL", "http://127.0.0.1:{PORT}", _public_url),
    Variable("SECRET_KEY", "", _text),
    # seals readers' replies at rest; several, comma-separated, while a key is rotated
    Variable("REPLY_KEY", "", _fernet_keys),
    Variable("MAIL_FROM", "course@{REPLY_DOMAIN}", _address),
    # DKIM: a PEM file (RSA, 2048 bits or more; `coursemail dkim new` makes one) signing as
    # MAIL_FROM's domain under the selector; an ed25519 key adds a second signature
    Variable("DKIM_PRIVATE_KEY", "", _optional_file),
    Variable("DKIM_SELECTOR", "coursemail", _selector),
    Variable("DKIM_ED25519_KEY", "", _optional_file),
    Variable("DKIM_ED25519_SELECTOR", "coursemail-ed25519", _selector),
    # where `coursemail doctor` asks DNS questions; empty: the system's resolver
    Variable("DNS_NAMESERVER", "", _nameserver),
    # the author's details: empty means the course's own (its course.toml [contact])
    Variable("THERAPIST_NAME", "", _line),
    Variable("THERAPIST_EMAIL", "", _optional_address),
    Variable("THERAPIST_PHONE", "", _line),
    # the time zone the desk shows times in; empty: the course's
    Variable("THERAPIST_TIMEZONE", "", _optional_zone),
    Variable("POSTAL_ADDRESS", "", _text),
    Variable("BLOG_URL", "", _optional_url),
    # empty means the course's own (its course.toml [post] url)
    Variable("FORGIVENESS_POST_URL", "", _optional_url),
    Variable("COURSEMAIL_TIME_SCALE", "1", _positive_float),
    Variable("TICK_INTERVAL", "5", _positive_float),
    Variable("CLAIM_TIMEOUT", "45", _between(10, 3600)),
    # pacing: course emails per minute in all, and per receiving provider (Google,
    # Microsoft, Yahoo/AOL, Apple, or the domain itself); 0 is no limit
    Variable("SEND_RATE", "0", _between(0, 1_000_000)),
    Variable("SEND_RATE_PER_PROVIDER", "0", _between(0, 1_000_000)),
    # a new sending domain's warm-up: at most 50 emails the first day, doubling each day
    Variable("WARMUP", "false", _flag),
    # worker processes `coursemail worker` starts; 0 means one per CPU core
    Variable("WORKERS", "0", _between(0, 64)),
    Variable("ADMIN_USERNAME", "admin", _text),
    Variable("ADMIN_PASSWORD", "", _text),
    # a Werkzeug password hash, so the plain password need not sit in the environment
    Variable("ADMIN_PASSWORD_HASH", "", _password_hash),
    # the web sites (the therapist's blog) whose pages may carry the sign-up form
    Variable("EMBED_ORIGINS", "", _origins),
    Variable("INBOUND_SMTP_HOST", "127.0.0.1", _text),
    # the name the reply listener greets with and writes in Received: (its MX host name)
    Variable("INBOUND_HOSTNAME", "{REPLY_DOMAIN}", _domain),
    # the name we give in HELO/EHLO to the relay; empty: this machine's fully qualified name
    Variable("SMTP_HELO_NAME", "", _optional_domain),
    Variable("INBOUND_SMTP_PORT", "2525", _between(1, 65535)),
    Variable("INBOUND_TLS_CERT", "", _optional_file),
    Variable("INBOUND_TLS_KEY", "", _optional_file),
    Variable("TRUSTED_PROXIES", "0", _between(0, 5)),
    Variable("REPLY_MODE", "tracked", _one_of(REPLY_MODES, "tracked or direct")),
    # notify: her inbox hears who replied, never their words (read on the desk)
    Variable("REPLY_FORWARD", "notify", _one_of(REPLY_FORWARDS, "full, notify or off")),
    # a reply's words are deleted this many days after it came (the fact of it stays)
    Variable("REPLY_RETENTION_DAYS", "365", _between(1, 3650)),
    Variable("INBOUND_MAX_BYTES", str(25 * 1024 * 1024), _between(64 * 1024, 200 * 1024 * 1024)),
    Variable("INBOUND_WEBHOOK_SECRET", "", _text),
    Variable("MAILGUN_SIGNING_KEY", "", _text),
    Variable("INBOUND_BASIC_AUTH", "", _user_password),
    Variable("CRISIS_PHRASES_FILE", "{safety}/crisis-phrases.txt", _readable_file),
    Variable("CRISIS_REPLY_FILE", "{safety}/crisis-reply.txt", _readable_file),
    # empty means "I read every reply myself, ..." (service.context), said in the welcome
    Variable("REPLIES_READ_NOTE", "", _line),
)


#: Settings that were renamed, and their names now: a deployment still setting the old name
#: is told at start-up rather than silently getting the default.
RENAMED = {"DISPATCH_INTERVAL": "TICK_INTERVAL"}
