"""One settings object, filled from environment variables.

Every field here has a row in the README's settings table (a test checks that). Development
defaults are safe and local; production refuses to start without the values that matter.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from emails.safety import SAFETY_DIR
from service import production
from service.variables import RENAMED, VARIABLES, ConfigError

#: A placeholder that makes a missing postal address obvious in development emails.
POSTAL_ADDRESS_PLACEHOLDER = "(postal address not set: set POSTAL_ADDRESS)"


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    DATABASE_URL: str
    REDIS_URL: str
    SMTP_URL: str
    PUBLIC_URL: str
    PORT: int
    SECRET_KEY: str
    REPLY_KEY: str
    COURSEMAIL_ENV: str
    MAIL_FROM: str
    DKIM_PRIVATE_KEY: Path | None
    DKIM_SELECTOR: str
    DKIM_ED25519_KEY: Path | None
    DKIM_ED25519_SELECTOR: str
    DNS_NAMESERVER: str
    THERAPIST_NAME: str
    THERAPIST_EMAIL: str
    THERAPIST_PHONE: str
    THERAPIST_TIMEZONE: str
    POSTAL_ADDRESS: str
    BLOG_URL: str
    FORGIVENESS_POST_URL: str
    REPLY_DOMAIN: str
    COURSEMAIL_TIME_SCALE: float
    TICK_INTERVAL: float
    CLAIM_TIMEOUT: int
    SEND_RATE: int
    SEND_RATE_PER_PROVIDER: int
    WARMUP: bool
    WORKERS: int
    ADMIN_USERNAME: str
    ADMIN_PASSWORD: str
    ADMIN_PASSWORD_HASH: str
    EMBED_ORIGINS: tuple[str, ...]
    INBOUND_SMTP_HOST: str
    INBOUND_HOSTNAME: str
    SMTP_HELO_NAME: str
    INBOUND_SMTP_PORT: int
    INBOUND_TLS_CERT: Path | None
    INBOUND_TLS_KEY: Path | None
    TRUSTED_PROXIES: int
    REPLY_MODE: str
    REPLY_FORWARD: str
    REPLY_RETENTION_DAYS: int
    INBOUND_MAX_BYTES: int
    INBOUND_WEBHOOK_SECRET: str
    MAILGUN_SIGNING_KEY: str
    INBOUND_BASIC_AUTH: str
    CRISIS_PHRASES_FILE: Path
    CRISIS_REPLY_FILE: Path
    REPLIES_READ_NOTE: str

    @property
    def mail_from_domain(self) -> str:
        """The domain of MAIL_FROM: what DKIM signs as, and what SPF and DMARC are read for."""
        return self.MAIL_FROM.rpartition("@")[2].lower()

    @property
    def tracked_replies(self) -> bool:
        return self.REPLY_MODE == "tracked"

    @property
    def reply_keys(self) -> list[str]:
        """REPLY_KEY's keys, the one that seals first."""
        return [k for k in self.REPLY_KEY.split(",") if k]

    @property
    def is_production(self) -> bool:
        return self.COURSEMAIL_ENV == "production"

    @property
    def desk_can_sign_in(self) -> bool:
        """Whether the therapist's desk has a password to check (else it stays closed)."""
        return bool(self.ADMIN_PASSWORD or self.ADMIN_PASSWORD_HASH)

    @property
    def worker_processes(self) -> int:
        """How many worker processes to run: WORKERS, or one per CPU core when it is 0."""
        return self.WORKERS or len(os.sched_getaffinity(0))

    @property
    def claim_timeout(self) -> timedelta:
        """How long a claim may go without its job's heartbeat before the tick retakes it."""
        return timedelta(seconds=self.CLAIM_TIMEOUT)

    @property
    def helo_name(self) -> str:
        """What we call ourselves to the relay: SMTP_HELO_NAME, else this machine's fully
        qualified name, else (a machine with no domain) the sender's domain: never the
        address literal smtplib falls back to, which many relays distrust."""
        if self.SMTP_HELO_NAME:
            return self.SMTP_HELO_NAME
        fqdn = machine_name()
        return fqdn if "." in fqdn and not fqdn.endswith(".localdomain") else self.mail_domain

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
        for old, new in RENAMED.items():
            if env.get(old, "").strip() and not env.get(new, "").strip():
                raise ConfigError(f"{old} is now called {new}: set {new} instead")
        # earlier values fill later defaults: {COURSEMAIL_INSTANCE}, {PORT}, {REPLY_DOMAIN}
        known: dict[str, object] = {"cwd": Path.cwd(), "safety": SAFETY_DIR}
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name, "").strip() or var.default.format(**known)
            known[var.name] = values[var.field or var.name] = var.parse(var.name, raw)
        settings = cls(**values)
        refusal = production.looks_like_a_server(env, settings)
        if refusal:
            raise ConfigError(refusal)
        return settings._checked()

    def _checked(self) -> Settings:
        """Apply production rules, and give development a stable secret and an address line."""
        from service.dkim_keys import read_ed25519_key, read_rsa_key

        if self.DKIM_PRIVATE_KEY is not None:  # a bad key is said at start-up, not per email
            read_rsa_key("DKIM_PRIVATE_KEY", self.DKIM_PRIVATE_KEY)
        if self.DKIM_ED25519_KEY is not None:
            read_ed25519_key("DKIM_ED25519_KEY", self.DKIM_ED25519_KEY)
        if (self.INBOUND_TLS_CERT is None) != (self.INBOUND_TLS_KEY is None):
            raise ConfigError(
                "INBOUND_TLS_CERT and INBOUND_TLS_KEY go together: set both (or neither)"
            )
        if self.is_production:
            production.check(self)
            if not self.POSTAL_ADDRESS:
                raise ConfigError(
                    "POSTAL_ADDRESS must be set in production: every email's footer shows "
                    "the sender's postal address (anti-spam law requires it)"
                )
            if not self.desk_can_sign_in:
                raise ConfigError(
                    "ADMIN_PASSWORD (or ADMIN_PASSWORD_HASH) must be set in production"
                )
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
        if not self.REPLY_KEY:
            changes["REPLY_KEY"] = _instance_value(self.instance_path / "reply_key", _fernet_key)
        if not self.POSTAL_ADDRESS:
            changes["POSTAL_ADDRESS"] = POSTAL_ADDRESS_PLACEHOLDER
        if not changes:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return type(self)(**values)


@cache
def machine_name() -> str:
    """This machine's fully qualified name: a DNS lookup, so once per process."""
    return socket.getfqdn()


def _instance_secret(instance: Path) -> str:
    """Generate the development secret once into ``instance/``, so every process agrees.

    Tokens signed by the web process are checked by workers and by the next restart; a
    secret made fresh per process would break every link in every email already sent.
    """
    return _instance_value(instance / "secret_key", lambda: secrets.token_hex(32))


def _fernet_key() -> str:
    """A Fernet key: 32 random bytes, url-safe base64 (what ``Fernet.generate_key`` makes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _instance_value(path: Path, make: Callable[[], str]) -> str:
    """A value made once into a file of ``instance/`` (mode 0600), read by every process."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: if two processes start at once, exactly one writes and both read its value.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    return path.read_text().strip()
