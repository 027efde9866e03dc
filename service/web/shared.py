"""Small helpers the blueprints share: the context, the course, the page context."""

from __future__ import annotations

from flask import Flask, current_app

from emails.course import Course, default_course
from service.context import Context
from service.outbox.handoff import send_confirmation_now
from service.readers.typos import KNOWN_DOMAINS


def context() -> Context:
    """This app’s context: settings, clock, database, Redis."""
    ctx = current_app.extensions["coursemail"]
    assert isinstance(ctx, Context)
    return ctx


def course() -> Course:
    return default_course()


def send_confirmation_soon(reader_id: int) -> None:
    """Hand a waiting confirmation to a worker now; if Redis is away the tick sends it."""
    send_confirmation_now(context(), reader_id)


def init_context(app: Flask) -> None:
    @app.context_processor
    def _page_context() -> dict[str, object]:
        loaded = course()
        author = loaded.author or context().contact(loaded).therapist_name
        return {
            "course": loaded,
            "author": author,
            "send_time": send_time_phrase(loaded.send_hour),
            "discreet_sender": loaded.discreet.sender,
            "discreet_example": loaded.discreet.subject_for(3, len(loaded.steps)),
            "known_domains": KNOWN_DOMAINS,
            "retention_words": _days_in_words(context().settings.REPLY_RETENTION_DAYS),
        }


def send_time_phrase(hour: int) -> str:
    """8 -> "8 in the morning", 14 -> "2 in the afternoon": how a person says it."""
    twelve = hour % 12 or 12
    if hour < 12:
        return f"{twelve} in the morning"
    if hour < 18:
        return f"{twelve} in the afternoon"
    return f"{twelve} in the evening"


def _days_in_words(days: int) -> str:
    """365 -> "a year", 730 -> "2 years", 90 -> "90 days"."""
    if days % 365 == 0:
        years = days // 365
        return "a year" if years == 1 else f"{years} years"
    return f"{days} days"
