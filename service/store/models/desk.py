"""What the desk and its health check keep for themselves: the snapshot of the costly
figures, the row every /healthz probe writes, and the desk's own accounts, sessions and
audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from service.store.models.base import Base
from service.store.sealing import SealedText


class DeskSnapshot(Base):
    """The desk's costly figures (the funnel, sign-ups per day), refreshed by the tick so the
    overview answers at once whatever the size of the list. One row."""

    __tablename__ = "desk_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime]
    #: how long the refresh took: the tick spaces refreshes by it
    seconds: Mapped[float] = mapped_column(Float)
    #: JSON: {"funnel": [[label, count], ...], "per_day": [[date, count], ...]}
    data: Mapped[str] = mapped_column(Text)


class HealthProbe(Base):
    """One row, written by every ``/healthz``: reads alone would call a full disk healthy."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    written_at: Mapped[datetime]


class DeskUser(Base):
    """Someone who may open the desk: a name, an argon2 password hash, and, once turned on,
    a second factor (its secret sealed at rest like readers' words) with recovery codes."""

    __tablename__ = "desk_users"
    __table_args__ = (Index("uq_desk_users_name_lower", func.lower("name"), unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: the time-based one-time code's secret (RFC 6238), sealed; None until turned on
    totp_secret: Mapped[str | None] = mapped_column(SealedText)
    #: argon2 hashes of the unused recovery codes, one per line
    recovery_codes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime | None]
    #: a code's secret being set up (shown as a QR code, not yet confirmed), sealed
    totp_pending: Mapped[str | None] = mapped_column(SealedText)
    #: the time step of the last code that opened the desk: a code works once
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class DeskSession(Base):
    """One signed-in browser. The cookie holds only a random key; the row is the session, so
    signing out, changing the password or "sign out everywhere" ends it for good (a copied
    cookie opens nothing after that)."""

    __tablename__ = "desk_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: sha256 of the cookie's random key (the key itself is never stored)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), index=True)
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    #: the password was right and the code is still to come: opens nothing yet
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: wrong codes typed in this pending step
    code_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ended_at: Mapped[datetime | None]


class DeskAudit(Base):
    """What happened on the desk: who signed in (or failed to), from where, which reader they
    opened, what they did. Appended, kept a year."""

    __tablename__ = "desk_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    #: the account's name as it was then (an account removed later still reads right)
    user_name: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(45))
    #: signed_in, sign_in_failed, signed_out, opened_reader, read_reply, an action's name...
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
