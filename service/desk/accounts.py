"""Who may open the desk: named accounts, their passwords, a second factor, and sessions.

- Passwords are hashed with argon2id (``argon2-cffi``). A hash from ``ADMIN_PASSWORD_HASH``
  in Werkzeug's format is checked by the function the caller passes (this room never imports
  the web framework) and replaced by an argon2 hash at that sign-in.
- Names are matched without regard to case ("Lee" is "lee"). An unknown name costs the same
  time as a wrong password: a decoy hash is checked instead.
- The first account is made from ``ADMIN_USERNAME`` and ``ADMIN_PASSWORD`` (or its hash) when
  nobody has an account yet; more come from ``coursemail desk add-user``.
- The second factor is a time-based one-time code (RFC 6238, ``pyotp``), its secret sealed at
  rest, with ten single-use recovery codes kept as argon2 hashes.
- A session is a row; the browser's cookie holds only a random key whose sha256 the row
  keeps. Signing out, a new password, or "sign out everywhere" ends rows for good, so a copied
  cookie opens nothing afterwards. A session ends after ``IDLE`` without a visit, and at
  ``LIFETIME`` whatever happens.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import argon2
import pyotp
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.store.models import DeskSession, DeskUser

#: A session ends after this long without a visit...
IDLE = timedelta(hours=2)
#: ...and this long after signing in, however busy.
LIFETIME = timedelta(hours=12)
#: How long the code page waits after the right password...
CODE_WAIT = timedelta(minutes=5)
#: ...and how many wrong codes it takes before the password is asked again.
CODE_TRIES = 5
#: The shortest password an account may have.
MIN_PASSWORD = 12
#: How many recovery codes a second factor comes with.
RECOVERY_CODES = 10
#: What the authenticator app shows as the account's issuer.
ISSUER = "coursemail desk"

_hasher = argon2.PasswordHasher()


class AccountError(ValueError):
    """Something the person asking can put right; the message says what."""


#: A hash of a password nobody knows, checked when the name is unknown. Made at import, so
#: the first unknown name costs what a wrong password costs (not one hash more).
_DECOY = _hasher.hash(secrets.token_urlsafe(24))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


#: Checks a password against a hash in another format: (hash, password) -> matches.
OtherFormat = Callable[[str, str], bool]


def _verify(stored: str, password: str, other: OtherFormat | None = None) -> bool:
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    if other is None:
        return False
    try:  # a Werkzeug hash from ADMIN_PASSWORD_HASH
        return other(stored, password)
    except ValueError:
        return False


def check_new_password(password: str, again: str | None = None) -> None:
    if again is not None and password != again:
        raise AccountError("The two new passwords are not the same.")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")


def find(db: Session, name: str) -> DeskUser | None:
    return db.scalar(select(DeskUser).where(func.lower(DeskUser.name) == name.strip().lower()))


def by_id(db: Session, user_id: int) -> DeskUser | None:
    return db.get(DeskUser, user_id)


def everyone(db: Session) -> list[DeskUser]:
    return list(db.scalars(select(DeskUser).order_by(func.lower(DeskUser.name))).all())


def remove(db: Session, user: DeskUser) -> None:
    """Take an account away, its sessions with it (the audit log keeps its lines)."""
    db.execute(delete(DeskSession).where(DeskSession.user_id == user.id))
    db.delete(user)


def anyone(db: Session) -> bool:
    return db.scalar(select(DeskUser.id).limit(1)) is not None


def add(
    db: Session,
    name: str,
    password: str,
    now: datetime,
    *,
    hashed: bool = False,
    checked: bool = True,
) -> DeskUser:
    """A new account. ``hashed``: ``password`` is already a hash (ADMIN_PASSWORD_HASH);
    ``checked=False``: the password was judged elsewhere (the environment's, by its rules)."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise AccountError("A name is one line of up to 100 characters.")
    if find(db, name) is not None:
        raise AccountError(f"There is already an account named {name!r}.")
    if checked and not hashed:
        check_new_password(password)
    user = DeskUser(
        name=name,
        password_hash=password if hashed else hash_password(password),
        created_at=now,
    )
    db.add(user)
    db.flush()
    return user


def first_from_settings(
    db: Session, name: str, password: str, password_hash: str, now: datetime
) -> bool:
    """Make the first account from the environment, when nobody has one yet; whether this
    call made it. Two first sign-ins at once make one account: the other finds it made."""
    if anyone(db) or not (password or password_hash):
        return False
    try:
        with db.begin_nested():
            if password_hash:
                add(db, name, password_hash, now, hashed=True)
            else:  # production's rules for it were applied when the settings were read
                add(db, name, password, now, checked=False)
    except (IntegrityError, AccountError):
        return False
    return True


def check_password(
    db: Session, name: str, password: str, other: OtherFormat | None = None
) -> DeskUser | None:
    """The account when the name and password match, else None, in the same time either way.
    A hash in another format (``other`` checks it) is replaced by an argon2 one."""
    user = find(db, name)
    if user is None:
        _verify(_DECOY, password)
        return None
    if not _verify(user.password_hash, password, other):
        return None
    if not user.password_hash.startswith("$argon2") or _hasher.check_needs_rehash(
        user.password_hash
    ):
        user.password_hash = hash_password(password)
    return user


def set_password(db: Session, user: DeskUser, password: str, now: datetime) -> None:
    """A new password, and every session of the account ended."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    end_all(db, user, now)


# --- the second factor -----------------------------------------------------------------


def new_secret() -> str:
    return pyotp.random_base32()


def setup_uri(name: str, secret: str) -> str:
    """What the QR code holds: an ``otpauth://`` address an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


#: How long one code is shown (RFC 6238's time step, in seconds).
STEP = 30


def _code_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, or None. A code from the step before or after is
    accepted too: phones' clocks drift."""
    digits = "".join(code.split())
    if not (digits.isascii() and digits.isdecimal() and len(digits) == 6):
        return None
    totp = pyotp.TOTP(secret)
    found = None
    for drift in (-1, 0, 1):
        at = now + timedelta(seconds=drift * STEP)
        if secrets.compare_digest(totp.at(at), digits):
            found = totp.timecode(at)
    return found


def _spend_step(db: Session, user: DeskUser, step: int) -> bool:
    """Record ``step`` as used, once: False when it (or a later one) opened the desk already.
    A conditional update, so two sign-ins at once with one code cannot both pass."""
    done = db.execute(
        update(DeskUser)
        .where(
            DeskUser.id == user.id,
            or_(DeskUser.totp_last_step.is_(None), DeskUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        return False
    user.totp_last_step = step
    return True


def start_code(user: DeskUser) -> str:
    """A new secret for turning the code on, held sealed on the account (never in a cookie)
    until a right code confirms it."""
    user.totp_pending = new_secret()
    return user.totp_pending


def turn_on_code(db: Session, user: DeskUser, code: str, now: datetime) -> list[str]:
    """Turn the second factor on once the app shows a right code for the secret being set up;
    the recovery codes, shown once and kept only as hashes."""
    secret = user.totp_pending
    if not secret:
        raise AccountError("Start again: press “Turn on a sign-in code” for a new QR code.")
    step = _code_step(secret, code, now)
    if step is None:
        raise AccountError("That code is not the one your app shows now. Try the next one.")
    user.totp_secret = secret
    user.totp_pending = None
    user.totp_last_step = step
    return new_recovery_codes(user)


def new_recovery_codes(user: DeskUser) -> list[str]:
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    user.recovery_codes = "\n".join(_hasher.hash(code) for code in codes)
    return codes


def turn_off_code(user: DeskUser) -> None:
    user.totp_secret = None
    user.totp_pending = None
    user.recovery_codes = None


def check_code(db: Session, user: DeskUser, code: str, now: datetime) -> str | None:
    """How the second step was passed ("code" or "recovery code"), or None. A code works
    once (its time step is kept); a recovery code works once, even when two sign-ins race
    with it (the stored list is swapped only if it is still the one read)."""
    if not user.totp_secret:
        return None
    step = _code_step(user.totp_secret, code, now)
    if step is not None:
        return "code" if _spend_step(db, user, step) else None
    typed = code.strip().lower()
    before = user.recovery_codes or ""
    kept = before.splitlines()
    for stored in kept:
        if _verify(stored, typed):
            kept.remove(stored)
            done = db.execute(
                update(DeskUser)
                .where(DeskUser.id == user.id, DeskUser.recovery_codes == before)
                .values(recovery_codes="\n".join(kept))
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) != 1:
                return None
            user.recovery_codes = "\n".join(kept)
            return "recovery code"
    return None


def recovery_codes_left(user: DeskUser) -> int:
    return len((user.recovery_codes or "").splitlines())


# --- sessions ----------------------------------------------------------------------------


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def open_session(db: Session, user: DeskUser, now: datetime, *, pending: bool = False) -> str:
    """A new session; the key for the cookie (only its digest is stored). A ``pending`` one
    (the password was right, the code is still to come) opens nothing but the code page."""
    key = secrets.token_urlsafe(32)
    db.add(
        DeskSession(
            key_hash=digest(key),
            user_id=user.id,
            created_at=now,
            seen_at=now,
            pending=pending,
            code_tries=0,
        )
    )
    return key


def pending(db: Session, key: str, now: datetime) -> tuple[DeskSession, DeskUser] | None:
    """The code step a cookie's key stands at, while it may still be passed: not ended (by
    signing out everywhere or a new password), within ``CODE_WAIT``, under ``CODE_TRIES``."""
    if not key:
        return None
    row = db.scalar(select(DeskSession).where(DeskSession.key_hash == digest(key)))
    if row is None or not row.pending or row.ended_at is not None:
        return None
    if now - row.created_at > CODE_WAIT or row.code_tries >= CODE_TRIES:
        row.ended_at = now
        return None
    user = db.get(DeskUser, row.user_id)
    return (row, user) if user is not None else None


def wrong_code(db: Session, row: DeskSession) -> None:
    """Count a wrong code against the pending step (in the row: a replayed cookie cannot
    reset it)."""
    db.execute(
        update(DeskSession)
        .where(DeskSession.id == row.id)
        .values(code_tries=DeskSession.code_tries + 1)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Visit:
    user_id: int
    name: str
    session_id: int


def visit(db: Session, key: str, now: datetime) -> Visit | None:
    """The signed-in account behind a cookie's key, the session kept alive; None when it has
    ended, idled out or lived its lifetime."""
    if not key:
        return None
    row = db.scalar(select(DeskSession).where(DeskSession.key_hash == digest(key)))
    if row is None or row.ended_at is not None or row.pending:
        return None
    if now - row.seen_at > IDLE or now - row.created_at > LIFETIME:
        row.ended_at = now
        return None
    user = db.get(DeskUser, row.user_id)
    if user is None:
        return None
    row.seen_at = now
    return Visit(user_id=user.id, name=user.name, session_id=row.id)


def end_session(db: Session, key: str, now: datetime) -> None:
    db.execute(
        update(DeskSession)
        .where(DeskSession.key_hash == digest(key), DeskSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_all(db: Session, user: DeskUser, now: datetime) -> int:
    """End every session of an account; how many were open."""
    done = db.execute(
        update(DeskSession)
        .where(DeskSession.user_id == user.id, DeskSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(getattr(done, "rowcount", 0) or 0)


def open_sessions(db: Session, user_id: int, now: datetime) -> list[DeskSession]:
    rows = db.scalars(
        select(DeskSession)
        .where(DeskSession.user_id == user_id, DeskSession.ended_at.is_(None))
        .order_by(DeskSession.seen_at.desc())
    ).all()
    return [r for r in rows if now - r.seen_at <= IDLE and now - r.created_at <= LIFETIME]


def prune_sessions(db: Session, now: datetime) -> int:
    """Forget sessions that ended or expired more than a day ago (the audit log keeps the
    story)."""
    cutoff = now - LIFETIME - timedelta(days=1)
    done = db.execute(
        delete(DeskSession).where(
            or_(DeskSession.created_at < cutoff, DeskSession.ended_at < now - timedelta(days=1))
        )
    )
    return int(getattr(done, "rowcount", 0) or 0)
