"""The coursemail web app: ``create_app`` builds it; nothing runs at import. Views only: each
parses the request, calls the domain, and renders.

- the reader’s pages: ``signup`` (the course page and its form), ``embed`` (the form on the
  therapist’s blog), ``confirm``, ``preferences`` (their own page, the archive, their data),
  ``unsubscribe``;
- ``desk``: the therapist’s desk, a package of its own;
- ``webhooks``: inbound mail from an ESP; ``feedback``: its complaint webhooks;
  ``health``: ``/healthz``; ``devmail``: the development mail catcher’s inbox;
- ``security`` (CSRF, rate limits, headers), ``errors`` (kind pages, never a traceback),
  ``shared`` (the context, the course, the page context).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from emails.course import default_course
from service import logmask
from service.clock import Clock, SystemClock
from service.context import Context, course_warnings
from service.courses import catalog
from service.settings import Settings

log = logging.getLogger("coursemail.web")

#: The largest request body the pages accept (a sign-up form is a few hundred bytes).
MAX_FORM_BYTES = 64 * 1024


def create_app(
    test_config: Mapping[str, Any] | None = None, *, clock: Clock | None = None
) -> Flask:
    """Build the app from the environment; ``test_config`` overrides settings by name.

    Raises ``ConfigError`` (naming the variable) when production is missing a secret,
    a postal address or admin credentials: the process refuses to start.
    """
    logmask.install()  # no address in full in any log line, gunicorn's access log included
    settings = Settings.from_env(overrides=test_config)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY,
        COURSEMAIL=settings,
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        # a reader may leave the form open for a long while before deciding: no expiry
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.PUBLIC_URL.startswith("https://"),
    )
    app.extensions["coursemail"] = Context(settings, clock=clock or SystemClock())
    for warning in course_warnings(settings, default_course()):
        log.warning(warning)
    if settings.TRUSTED_PROXIES:
        _behind_proxies(app, settings.TRUSTED_PROXIES)
    _register_blueprints(app)
    app.before_request(_published_course)
    return app


def _published_course() -> None:
    """Pages and forms show the course as published now (one small query tells). With the
    database away, the course this process last knew serves (the page says if it cannot)."""
    if request.endpoint in (None, "static"):
        return
    try:
        catalog.refresh(current_app.extensions["coursemail"].database)
    except SQLAlchemyError as error:
        log.warning("could not read the published course (%s)", type(error).__name__)


def _behind_proxies(app: Flask, n: int) -> None:
    """Behind a proxy every request seems to come from it: believe its X-Forwarded-*
    headers, or one rate limit would be shared by every reader and consent records would all
    hold the proxy’s address."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]


def _register_blueprints(app: Flask) -> None:
    from service.web import (
        confirm,
        desk,
        devmail,
        embed,
        errors,
        feedback,
        health,
        preferences,
        private,
        security,
        signup,
        unsubscribe,
        webhooks,
    )

    for part in (
        security,
        errors,
        signup,
        embed,
        confirm,
        unsubscribe,
        preferences,
        private,
        health,
        devmail,
        webhooks,
        feedback,
        desk,
    ):
        part.init_app(app)
