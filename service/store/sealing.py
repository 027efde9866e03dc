"""Readers' words, sealed at rest: what they wrote (the reply text, its subject, the notes
about it) and the whole raw message are kept encrypted with Fernet (AES-128-CBC with an
HMAC-SHA256, from the ``cryptography`` package), so the database file, its WAL, a backup or
a stolen disk holds no word a reader wrote.

``REPLY_KEY`` holds one key, or several separated by commas: the first seals, every one opens
(``MultiFernet``), so a new key is added in front, ``coursemail keys rotate`` seals every
row again with it, and the old one is then dropped. In development a key is made once into
``instance/reply_key`` (mode 0600, by ``service.settings``); production refuses to start
without one.

The columns are typed (``SealedText``, ``SealedBytes``): a value is sealed as it is written
and opened as it is read, so no code path can forget. A value written before sealing began
(a plain reply, no Fernet token) is read as it is and sealed by the next ``keys rotate``.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, LargeBinary, Text, TypeDecorator

#: Every Fernet token starts with its version byte, 0x80: "gAAAAA" once in base64.
TOKEN_PREFIX = b"gAAAAA"


class BadKey(ValueError):
    """A key that is not a Fernet key; the message says what one looks like."""


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise BadKey("no key given")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except ValueError:
            raise BadKey(
                "a key must be 32 url-safe base64-encoded bytes (coursemail keys new prints one)"
            ) from None
        self.keys = [k.strip() for k in keys]

    def seal(self, plain: bytes) -> bytes:
        return self._fernet.encrypt(plain)

    def open(self, sealed: bytes) -> bytes:
        """The plain bytes; a value that was never sealed is returned as it is."""
        if not sealed.startswith(TOKEN_PREFIX):
            return sealed
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise InvalidToken(
                "a sealed reply could not be opened with REPLY_KEY: was a key dropped before "
                "`coursemail keys rotate` had sealed everything again?"
            ) from None

    def reseal(self, sealed: bytes) -> bytes:
        """Sealed again with the first key (a plain legacy value is sealed for the first time)."""
        if not sealed.startswith(TOKEN_PREFIX):
            return self.seal(sealed)
        return self._fernet.rotate(sealed)


def new_key() -> str:
    return Fernet.generate_key().decode()


_current: Sealer | None = None


def install(sealer: Sealer) -> None:
    """The sealer this process's sealed columns use (the context installs it)."""
    global _current
    _current = sealer


def current() -> Sealer:
    if _current is None:
        raise RuntimeError("no reply key installed: build a Context first")
    return _current


class SealedBytes(TypeDecorator[bytes]):
    """Bytes kept sealed (the raw message)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else current().seal(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else current().open(bytes(value))


class SealedText(TypeDecorator[str]):
    """Text kept sealed (a reply's words); stored as the token's ASCII."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().seal(value.encode()).decode("ascii")

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().open(value.encode()).decode()
