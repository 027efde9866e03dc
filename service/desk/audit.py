"""The desk's audit log: who signed in (or tried), from where, which reader they opened and
what they did. Appended by the desk's pages, shown on ``/admin/audit``, kept a year (the
tick forgets older lines)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.store.models import DeskAudit

#: How long a line is kept.
KEPT = timedelta(days=365)
#: Lines per page of /admin/audit.
PAGE = 100

#: What each action is called on the page.
SAID = {
    "signed_in": "Signed in",
    "sign_in_failed": "A sign-in was refused",
    "code_asked": "Password right, code asked",
    "code_failed": "A wrong sign-in code",
    "signed_out": "Signed out",
    "signed_out_everywhere": "Signed out everywhere",
    "password_changed": "Changed the password",
    "code_turned_on": "Turned on the sign-in code",
    "code_turned_off": "Turned off the sign-in code",
    "opened_reader": "Opened a reader",
    "read_reply": "Read a reply",
    "listed_replies": "Looked at the replies",
    "searched_replies": "Searched the replies",
    "searched_readers": "Searched the readers",
    "listed_emails": "Looked at the emails",
    "sign_in_throttled": "Sign-ins refused for too many tries",
    "exported": "Downloaded a list",
    "dropped_for_erased": "A message to an erased reader was dropped, unread",
    "account_added": "Added an account",
    "account_removed": "Removed an account",
}


def record(
    db: Session,
    now: datetime,
    action: str,
    *,
    user: str | None,
    ip: str | None,
    detail: str | None = None,
) -> None:
    db.add(
        DeskAudit(
            at=now,
            user_name=(user or None) and user[:100],
            ip=(ip or None) and ip[:45],
            action=action[:40],
            detail=detail and detail[:500],
        )
    )


def said(action: str) -> str:
    """An action's words; one done on a page (a button's endpoint) in its own words."""
    if action in SAID:
        return SAID[action]
    return action.replace("_", " ").capitalize()


def page(db: Session, *, before: int | None = None) -> list[DeskAudit]:
    query = select(DeskAudit).order_by(DeskAudit.id.desc()).limit(PAGE)
    if before is not None:
        query = query.where(DeskAudit.id < before)
    return list(db.scalars(query).all())


def prune(db: Session, now: datetime) -> int:
    """Forget lines older than a year; how many."""
    done = db.execute(delete(DeskAudit).where(DeskAudit.at < now - KEPT))
    return int(getattr(done, "rowcount", 0) or 0)
