"""Every error is a kind page (or JSON for API clients), never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("coursemail.web")

MESSAGES: dict[int, tuple[str, str]] = {
    400: (
        "Something in that request didn’t look right",
        "Please go back and try again. If it keeps happening, the link may have been cut "
        "short: try copying the whole link from the email.",
    ),
    403: (
        "That can’t be done from here",
        "Please go back to the page you came from and try again there.",
    ),
    404: (
        "We couldn’t find that page",
        "The link may be incomplete or out of date. You’re welcome to start again from "
        "the course page.",
    ),
    405: ("That page can’t be used that way", "Please start again from the course page."),
    410: ("This link has expired", "For your safety, links only work for a while."),
    413: ("That was more than we can accept", "Please go back and shorten what you entered."),
    429: (
        "Let’s slow down a little",
        "We’ve had several requests from your connection in a short time. Please wait a "
        "minute, then try again.",
    ),
    500: (
        "Something went wrong on our side",
        "It isn’t anything you did. Please try again in a few minutes.",
    ),
}


def error_page(
    status: int, *, title: str | None = None, detail: str | None = None
) -> ResponseReturnValue:
    default_title, default_detail = MESSAGES.get(status, MESSAGES[500])
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/inbound/"):
        return {"error": title or default_title, "status": status}, status
    return (
        render_template(
            "error.html",
            status=status,
            title=title or default_title,
            detail=detail or default_detail,
        ),
        status,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> ResponseReturnValue:
        return error_page(
            400,
            title="That form needs to be sent again",
            detail="Your browser didn’t send the form’s security check (this can happen "
            "when cookies are blocked or the page was open in another window). Please go "
            "back, reload the page and try once more.",
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> ResponseReturnValue:
        # a description of our own (abort(..., description=...)) says what went wrong here;
        # Werkzeug's stock one is replaced by the kind words above
        own = error.description if error.description != type(error).description else None
        return error_page(error.code or 500, detail=own)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError) -> ResponseReturnValue:
        log.error(
            "unhandled error on %s %s",
            request.method,
            request.path,
            exc_info=error.original_exception,
        )
        return error_page(500)
