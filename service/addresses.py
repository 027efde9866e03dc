"""Tracked addresses at ``REPLY_DOMAIN``: ``reply+TOKEN``, ``bounces+TOKEN``, ``unsubscribe+TOKEN``.

TOKEN names one email we sent (the reader and the delivery, never the address in clear)
and carries a truncated HMAC, so it cannot be guessed, altered or moved to another purpose.
It also carries a few bytes derived from the reader's random public id: should a row id
ever be reused (SQLite reuses the highest id after a delete), an old address no longer
matches the new person, so a reply can never be filed under someone else.
It is lower-case base32 without padding: relays that fold an address's case leave it
readable, and ``unsubscribe+`` plus the token fits the 64-octet local part with room to spare.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import StrEnum


class AddressKind(StrEnum):
    REPLY = "reply"
    BOUNCE = "bounces"
    UNSUBSCRIBE = "unsubscribe"
    #: the envelope sender of what we send the therapist (forwards, notices): a return
    #: names the reply (its id in the delivery slot) she did not get
    RETURNED = "returned"
    #: ``coursemail doctor --send``'s test of the reply path (reader 0, a random number in
    #: the delivery slot): it is noted when it comes back, never forwarded
    PROBE = "probe"


#: Bumped if the layout below ever changes; old tokens then stop verifying.
TOKEN_VERSION = 1
#: version, reader id, delivery id, owner check
_PAYLOAD = struct.Struct(">BII3s")
#: 80 bits of HMAC: forging one by trying addresses would take longer than the universe has
MAC_BYTES = 10
#: Separates this use of the secret from every other.
_KEY_LABEL = b"coursemail.address-token"
#: The longest local part SMTP allows (RFC 5321, 4.5.3.1.1).
MAX_LOCAL_PART = 64


@dataclass(frozen=True)
class AddressToken:
    kind: AddressKind
    reader_id: int
    delivery_id: int
    owner_check: bytes

    def belongs_to(self, public_id: str) -> bool:
        """Whether the reader row now holding ``subscriber_id`` is the one it was made for."""
        return hmac.compare_digest(self.owner_check, owner_check(public_id))


def owner_check(public_id: str) -> bytes:
    return hashlib.sha256(public_id.encode()).digest()[:3]


class Addresses:
    """Makes and reads tracked addresses for one secret and one reply domain."""

    def __init__(self, secret_key: str, domain: str) -> None:
        self._key = hmac.new(secret_key.encode(), _KEY_LABEL, hashlib.sha256).digest()
        self.domain = domain.lower()

    def _mac(self, kind: AddressKind, payload: bytes) -> bytes:
        return hmac.new(self._key, kind.value.encode() + b":" + payload, hashlib.sha256).digest()[
            :MAC_BYTES
        ]

    def token(self, kind: AddressKind, reader_id: int, delivery_id: int, *, owner: str) -> str:
        """``owner`` is the reader's public id."""
        payload = _PAYLOAD.pack(TOKEN_VERSION, reader_id, delivery_id, owner_check(owner))
        raw = payload + self._mac(kind, payload)
        return base64.b32encode(raw).decode().rstrip("=").lower()

    def address(self, kind: AddressKind, reader_id: int, delivery_id: int, *, owner: str) -> str:
        local = f"{kind.value}+{self.token(kind, reader_id, delivery_id, owner=owner)}"
        assert len(local) <= MAX_LOCAL_PART
        return f"{local}@{self.domain}"

    def read(self, address: str) -> AddressToken | None:
        """The token behind a tracked address, or None if it is not one of ours (or forged)."""
        local, at, domain = address.strip().strip("<>").rpartition("@")
        if not at or domain.lower() != self.domain:
            return None
        prefix, plus, token = local.lower().partition("+")
        if not plus:
            return None
        try:
            kind = AddressKind(prefix)
        except ValueError:
            return None
        return self.read_token(kind, token)

    def read_token(self, kind: AddressKind, token: str) -> AddressToken | None:
        expected_length = -(-(_PAYLOAD.size + MAC_BYTES) * 8 // 5)
        if len(token) != expected_length or not token.isascii():
            return None
        padded = token.upper() + "=" * (-len(token) % 8)
        try:
            raw = base64.b32decode(padded)
        except (binascii.Error, ValueError):
            return None
        if base64.b32encode(raw).decode().rstrip("=") != token.upper():
            return None  # the unused low bits of the last character were changed
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._mac(kind, payload)):
            return None
        version, reader_id, delivery_id, check = _PAYLOAD.unpack(payload)
        if version != TOKEN_VERSION:
            return None
        return AddressToken(kind, reader_id, delivery_id, check)


#: Mailboxes every mail domain keeps (RFC 5321 4.5.1, RFC 2142): taken for the therapist;
#: complaint reports (RFC 5965) sent to them are read as complaints.
ROLE_MAILBOXES = ("postmaster", "abuse", "fbl")


def role_mailbox(address: str, domain: str) -> str | None:
    """``postmaster`` (bare, or at ``domain``), ``abuse`` or ``fbl`` at ``domain``, else None."""
    local, at, where = address.rpartition("@")
    if not at:
        local, where = address, domain  # RCPT TO:<Postmaster> names no domain (RFC 5321)
        if local.lower() != "postmaster":
            return None
    if where.lower() != domain.lower() or local.lower() not in ROLE_MAILBOXES:
        return None
    return local.lower()
