"""Small helpers the blueprints share: the context, the course, the page context."""

from __future__ import annotations

from flask import Flask, current_app, g, has_app_context, url_for

from emails.course import (
    Course,
    course_or_first,
    is_published,
    published_slugs,
)
from service.context import Context
from service.outbox.handoff import send_confirmation_now
from service.readers.typos import KNOWN_DOMAINS


def context() -> Context:
    """This app’s context: settings, clock, database, Redis."""
    ctx = current_app.extensions["coursemail"]
    assert isinstance(ctx, Context)
    return ctx


def course() -> Course:
    """The course this request is about: the one whose page, form or desk view it is
    (``use_course``), else the first course (the one at ``/``; outside a request too)."""
    return course_or_first(g.get("course_slug") if has_app_context() else None)


def use_course(slug: str | None) -> bool:
    """Make ``slug`` this request's course; False (and nothing changed) when no course of
    that name is published."""
    if not slug or not is_published(slug):
        return False
    g.course_slug = slug
    return True


def course_page_url(slug: str) -> str:
    """Where a course's page is: ``/`` for the first course, ``/<slug>`` for the others."""
    if slug == published_slugs()[0]:
        return url_for("signup.index")
    return url_for("signup.course_page", slug=slug)


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
            "course_url": course_page_url(loaded.slug),
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
