"""RQ job entry points: importable functions that take ids only.

The web app and the tick enqueue them by dotted name (``service.queues``), so nothing in
``service`` imports this module.
"""

from __future__ import annotations

from service.courses import catalog
from workers import desk_jobs, forwarding, runtime, sending, setup_tests
from workers.runtime import Runtime


def _current() -> Runtime:
    """This process's runtime, with the course as published now (a publish is seen by the
    next job)."""
    rt = runtime.current()
    catalog.refresh(rt.database)
    return rt


def send_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send these claimed deliveries over one SMTP connection."""
    return sending.send_batch(_current(), delivery_ids)


def handle_replies(inbound_ids: list[int]) -> dict[str, int]:
    """Parse these stored messages and forward the replies among them to the therapist."""
    return forwarding.handle_batch(_current(), inbound_ids)


def resend(delivery_id: int, actor: str) -> str:
    """Send one of a reader's emails again, on purpose (the desk's "resend")."""
    try:
        return desk_jobs.resend(_current(), delivery_id, actor=actor, any_sent=True)
    except desk_jobs.ActionRefused as refusal:
        return f"not resent: {refusal}"  # the job's result; the desk showed why before asking


def send_test(step: int | None, to: str) -> str:
    """A ``[TEST]`` copy of course email ``step`` (None: the confirmation) to ``to``."""
    try:
        return desk_jobs.send_test(_current(), step, to)
    except desk_jobs.ActionRefused as refusal:
        return f"not sent: {refusal}"


def alert_hold(scope: str) -> str:
    """Tell the therapist course email to ``scope`` is held, and why."""
    try:
        return desk_jobs.alert_hold(_current(), scope)
    except desk_jobs.ActionRefused as refusal:
        return f"not sent: {refusal}"


def send_setup_tests() -> str:
    """The desk's "Send the tests": one to the therapist, one round the reply path."""
    sent = setup_tests.send_tests(_current())
    return sent.therapist_error or sent.probe_error or "sent"


def send_draft_test(slug: str, step: int | None, to: str) -> str:
    """A ``[TEST]`` copy of email ``step`` of the desk's draft of course ``slug``."""
    try:
        return desk_jobs.send_draft_test(_current(), slug, step, to)
    except desk_jobs.ActionRefused as refusal:
        return f"not sent: {refusal}"
