"""CSRF protection, rate limits and the security headers every response carries.

Forms carry Flask-WTF’s token, tied to the session cookie (SameSite=Lax). Over HTTPS,
Flask-WTF would also insist on a ``Referer`` from this host, but our pages send
``Referrer-Policy: no-referrer`` where links carry tokens, and a browser then sends no
Referer (and ``Origin: null``): every form would answer 400 behind a TLS proxy. So that
strict check is off, and this module checks the sender instead: an ``Origin`` that is not
``null`` must be ours, else a ``Referer``, when one is sent, must be ours; a request with
neither is decided by its token alone. In production every answer carries HSTS.
"""

from __future__ import annotations

from flask import Flask, Response, abort, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from service.variables import origin_of

csrf = CSRFProtect()

#: No CDN, no inline script or style: everything comes from our own /static.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # the desk's course editor saves its draft to its own address as she types
        "connect-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        # the mail viewer and the desk's email previews frame only our own pages
        "frame-src 'self'",
    ]
)


def limiter_storage(redis_url: str) -> str:
    """The limits library spells a unix-socket Redis ``redis+unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


limiter = Limiter(get_remote_address)

#: What browsers remember about HTTPS once they have seen it (a year; the usual value).
HSTS = "max-age=31536000"
#: Pages whose address holds no token: a same-origin POST then says where it came from.
SAME_ORIGIN_REFERRER = "same-origin"
#: Methods that change something, and so must come from our own pages.
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _ours() -> set[str]:
    """Our own origins: the public address, and the one this request reached."""
    from service.web.shared import context

    found = {origin_of(request.host_url)}
    public = origin_of(context().settings.PUBLIC_URL)
    if public:
        found.add(public)
    return {o for o in found if o}


def _check_sender() -> None:
    if request.method not in UNSAFE or request.endpoint is None:
        return
    view = request.endpoint.rpartition(".")[0] or request.endpoint
    if view in ("inbound", "embed") or request.endpoint == "unsubscribe.leave":
        return  # webhooks sign their bodies; /embed checks its own list; RFC 8058 posts bare
    origin = request.headers.get("Origin", "")
    if origin and origin != "null":
        if origin_of(origin) not in _ours():
            abort(403, description="This form was sent from another site.")
        return
    referer = request.headers.get("Referer", "")
    if referer and origin_of(referer) not in _ours():
        abort(403, description="This form was sent from another site.")


def init_app(app: Flask) -> None:
    # the Referer Flask-WTF wants over HTTPS is never sent by our pages; _check_sender instead
    app.config["WTF_CSRF_SSL_STRICT"] = False
    app.before_request(_check_sender)
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
        # a link's token never leaves in a Referer; other pages tell our own forms' POSTs
        # where they came from, and nothing to other sites
        tokened = bool(request.view_args and "token" in request.view_args)
        policy_name = "no-referrer" if tokened else SAME_ORIGIN_REFERRER
        response.headers.setdefault("Referrer-Policy", policy_name)
        if app.config["COURSEMAIL"].is_production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if "frame-ancestors 'none'" in policy:
            # older browsers' spelling; a page framed by named sites (/embed) relies on CSP
            response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint and request.endpoint != "static":
            # pages hold personal links and answers: never keep them in a shared cache
            response.headers.setdefault("Cache-Control", "no-store")
        return response
