"""CSRF protection, rate limits and the security headers every response carries."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

#: No CDN, no inline script or style: everything comes from our own /static.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        # only the development mail viewer frames anything, and only its own pages
        "frame-src 'self'",
    ]
)


def limiter_storage(redis_url: str) -> str:
    """The limits library spells a unix-socket Redis ``redis+unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


limiter = Limiter(get_remote_address)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", limiter_storage(app.config["COURSEMAIL"].REDIS_URL)
    )
    # a Redis outage must not take the sign-up form down: count in memory meanwhile
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        policy = response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if "frame-ancestors 'none'" in policy:
            # older browsers' spelling; a page framed by named sites (/embed) relies on CSP
            response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint and request.endpoint != "static":
            # pages hold personal links and answers: never keep them in a shared cache
            response.headers.setdefault("Cache-Control", "no-store")
        return response
