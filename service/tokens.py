"""Signed tokens for links in emails: the confirmation link (expiring), the preferences
link (never expiring), and the private link a reader asks for (its age kept in the database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

#: Separates confirmation tokens from anything else signed with the same key.
CONFIRM_SALT = "coursemail.confirm"
#: A confirmation link works for this long, in real time (never scaled).
CONFIRM_MAX_AGE = timedelta(days=7)


class TokenInvalid(Exception):
    """Tampered, truncated or signed with another key."""


class TokenExpired(Exception):
    def __init__(self, public_id: str) -> None:
        super().__init__("expired")
        #: whose link it was, so the page can offer a fresh one
        self.public_id = public_id


@dataclass(frozen=True)
class ConfirmTokens:
    secret_key: str

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret_key, salt=CONFIRM_SALT)

    def make(self, public_id: str, course: str | None = None) -> str:
        """A link for ``public_id`` to confirm ``course`` (None: the first course)."""
        return self._serializer().dumps([public_id, course] if course else public_id)

    def read(self, token: str) -> tuple[str, str | None]:
        """The reader's public id and the course the link confirms (None: the first, or
        one they asked for before links named a course), or ``TokenInvalid`` /
        ``TokenExpired``."""
        serializer = self._serializer()
        try:
            return _split(serializer.loads(token, max_age=int(CONFIRM_MAX_AGE.total_seconds())))
        except SignatureExpired as error:
            payload = serializer.loads_unsafe(token)[1]
            raise TokenExpired(_split(payload)[0]) from error
        except BadSignature as error:
            raise TokenInvalid(str(error)) from error

    def read_any_age(self, token: str) -> tuple[str, str | None]:
        """What a genuine token names, however old: to send a fresh link."""
        try:
            return _split(self._serializer().loads(token))
        except BadSignature as error:
            raise TokenInvalid(str(error)) from error


def _split(payload: object) -> tuple[str, str | None]:
    if isinstance(payload, list) and len(payload) == 2:
        return str(payload[0]), (str(payload[1]) if payload[1] else None)
    return str(payload), None


#: Separates preferences links from anything else signed with the same key.
PREFERENCES_SALT = "coursemail.preferences"


@dataclass(frozen=True)
class PreferencesTokens:
    """The reader's own link to their preferences: signed, never expiring, no login."""

    secret_key: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret_key, salt=PREFERENCES_SALT)

    def make(self, public_id: str) -> str:
        return str(self._serializer().dumps(public_id))

    def read(self, token: str) -> str:
        """The reader's public id, or ``TokenInvalid``."""
        try:
            return str(self._serializer().loads(token))
        except BadSignature as error:
            raise TokenInvalid(str(error)) from error


#: Separates private links from anything else signed with the same key.
PRIVATE_SALT = "coursemail.private"


@dataclass(frozen=True)
class PrivateLinkTokens:
    """A reader's fresh private link: names the reader and the email that carried it. Its
    age and single use are kept in the database (``private_links``), not in the token."""

    secret_key: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret_key, salt=PRIVATE_SALT)

    def make(self, public_id: str, delivery_id: int) -> str:
        return str(self._serializer().dumps([public_id, delivery_id]))

    def read(self, token: str) -> tuple[str, int]:
        """(public id, delivery id), or ``TokenInvalid``."""
        try:
            found = self._serializer().loads(token)
        except BadSignature as error:
            raise TokenInvalid(str(error)) from error
        if not (isinstance(found, list) and len(found) == 2 and isinstance(found[1], int)):
            raise TokenInvalid("not a private link")
        return str(found[0]), found[1]
