"""Signing in to the desk, and the guard in front of every desk page.

One account, from the environment: ``ADMIN_USERNAME`` with ``ADMIN_PASSWORD`` or
``ADMIN_PASSWORD_HASH`` (a Werkzeug hash). Both are compared in constant time. A signed-in
session lives in Flask’s signed cookie (HttpOnly, SameSite=Lax, Secure over https) and ends
after 12 idle hours or at ``POST /admin/logout``. Failed sign-ins are limited to five a
minute per address and logged without the password. Without a password configured, the desk
says how to set one instead of opening.
"""

from __future__ import annotations

import hmac
import logging

from flask import (
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.security import check_password_hash

from service.web.desk import bp
from service.web.security import limiter
from service.web.shared import context

log = logging.getLogger("coursemail.desk")


#: A signed-in session ends after this many seconds without a request.
IDLE_SECONDS = 12 * 3600
#: A fixed hash to check against when the name is wrong, so a wrong name costs the same.
_DECOY = "scrypt:32768:8:1$decoy$" + "0" * 128


def _now() -> int:
    """Seconds since the epoch by the app’s clock (a test’s manual clock moves it)."""
    return int(context().clock.now().timestamp())


def _signed_in() -> bool:
    seen = session.get("desk_seen")
    if not session.get("desk_user") or not isinstance(seen, (int, float)):
        return False
    if _now() - seen > IDLE_SECONDS:
        session.clear()
        return False
    session["desk_seen"] = _now()
    return True


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if request.endpoint in ("desk.login", "desk.sign_in"):
        return None
    if not context().settings.desk_can_sign_in:
        return render_template("desk/closed.html"), 503
    if _signed_in():
        return None
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error="sign in at /admin/login first"), 401
    return redirect(url_for("desk.login", next=request.path))


def _password_matches(username: str, password: str) -> bool:
    settings = context().settings
    name_ok = hmac.compare_digest(username.encode(), settings.ADMIN_USERNAME.encode())
    if settings.ADMIN_PASSWORD_HASH:
        hashed = settings.ADMIN_PASSWORD_HASH if name_ok else _DECOY
        try:
            password_ok = check_password_hash(hashed, password)
        except ValueError:
            password_ok = False
    else:
        password_ok = hmac.compare_digest(password.encode(), settings.ADMIN_PASSWORD.encode())
    return name_ok and password_ok


@bp.get("/login")
def login() -> ResponseReturnValue:
    if not context().settings.desk_can_sign_in:
        return render_template("desk/closed.html"), 503
    return render_template("desk/login.html", error=None, username="")


def _failed_sign_in(response: Response) -> bool:
    return response.status_code == 401


@bp.post("/login")
@limiter.limit("5 per minute", methods=["POST"], deduct_when=_failed_sign_in)
def sign_in() -> ResponseReturnValue:
    if not context().settings.desk_can_sign_in:
        return render_template("desk/closed.html"), 503
    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")[:1000]
    if not _password_matches(username, password):
        log.warning("failed sign-in to the desk as %r from %s", username, request.remote_addr)
        page = render_template(
            "desk/login.html", error="That name and password do not match.", username=username
        )
        return page, 401
    session.clear()  # a fresh session: nothing from before signing in carries over
    session["desk_user"] = username
    session["desk_seen"] = _now()
    log.info("signed in to the desk from %s", request.remote_addr)
    return redirect(_desk_page(request.args.get("next", "")), 303)


def _desk_page(target: str) -> str:
    """Where to go after signing in: a page of the desk, written plainly, else the overview
    (never another site, never a header broken by a control character)."""
    plain = target.isprintable() and target.isascii() and "\\" not in target
    if plain and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("desk.index")


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("desk.login"), 303)
