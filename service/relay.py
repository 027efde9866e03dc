"""``SMTP_URL`` read once, the same way for the sender (``workers.transport``) and for
``coursemail doctor``: where the relay is, how TLS is reached, and the login (URL-decoded,
so a password holding ``/`` or ``@`` may be written ``%2F``, ``%40``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    #: ``smtps://``: TLS from the first byte
    implicit_tls: bool
    #: ``?starttls=true`` (or 1, yes): STARTTLS before anything else is said
    starttls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> Relay:
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower()
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (465 if implicit_tls else 25),
            implicit_tls=implicit_tls,
            starttls=starttls in ("1", "true", "yes"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )
