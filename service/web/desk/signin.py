"""Signing in to the desk, and the guard in front of every desk page.

Named accounts (``service.desk.accounts``): the first is made from ``ADMIN_USERNAME`` and
``ADMIN_PASSWORD`` (or ``ADMIN_PASSWORD_HASH``) at the first sign-in, more with
``coursemail desk add-user``. Once an account has turned on its sign-in code, the password
is followed by a second page asking for it (or a recovery code).

The browser's cookie (Flask's, signed, HttpOnly, SameSite=Lax, Secure over https) holds a
random key; the session itself is a row, so signing out ends it for good. Failed sign-ins
are limited per address and per account name, logged without the password, and written to
the desk's audit log like every sign-in and every reader opened.
"""

from __future__ import annotations

import logging

from flask import (
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.security import check_password_hash

from service.desk import accounts, audit
from service.web.desk import bp
from service.web.security import limiter
from service.web.shared import context

log = logging.getLogger("coursemail.desk")

#: Pages open to someone not signed in.
OPEN = frozenset({"desk.login", "desk.sign_in", "desk.code", "desk.check_code"})


def _desk_open() -> bool:
    """Whether anyone can sign in: an account exists, or the environment makes the first."""
    ctx = context()
    if ctx.settings.desk_can_sign_in:
        return True
    with ctx.database.session(read_only=True) as db:
        return accounts.anyone(db)


def write_audit(action: str, detail: str | None = None, *, user: str | None = None) -> None:
    """One line in the desk's audit log, by the signed-in account unless ``user`` says."""
    ctx = context()
    with ctx.database.session() as db:
        audit.record(
            db,
            ctx.clock.now(),
            action,
            user=user if user is not None else getattr(g, "desk_user", None),
            ip=request.remote_addr,
            detail=detail,
        )


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if not _desk_open():
        return render_template("desk/closed.html"), 503
    if request.endpoint in OPEN:
        return None
    ctx = context()
    with ctx.database.session() as db:
        found = accounts.visit(db, str(session.get("desk_key", "")), ctx.clock.now())
    if found is not None:
        g.desk_user, g.desk_user_id = found.name, found.user_id
        return None
    session.pop("desk_key", None)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error="sign in at /admin/login first"), 401
    return redirect(url_for("desk.login", next=request.path))


@bp.get("/login")
def login() -> ResponseReturnValue:
    return render_template("desk/login.html", error=None, username="")


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _account_key() -> str:
    """Guesses at one account count together, from however many addresses they come."""
    return "desk-account:" + request.form.get("username", "")[:200].strip().lower()


@bp.post("/login")
@limiter.limit("5 per minute", methods=["POST"], deduct_when=_failed)
@limiter.limit("10 per 15 minutes", methods=["POST"], deduct_when=_failed, key_func=_account_key)
def sign_in() -> ResponseReturnValue:
    ctx = context()
    settings = ctx.settings
    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")[:1000]
    now = ctx.clock.now()
    with ctx.database.session() as db:
        made = accounts.first_from_settings(
            db, settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD, settings.ADMIN_PASSWORD_HASH, now
        )
        if made:
            audit.record(
                db,
                now,
                "account_added",
                user=None,
                ip=request.remote_addr,
                detail=f"{settings.ADMIN_USERNAME}, from ADMIN_PASSWORD at the first sign-in",
            )
        user = accounts.check_password(db, username, password, check_password_hash)
        if user is None:
            known = accounts.find(db, username)
            audit.record(
                db,
                now,
                "sign_in_failed",
                user=known.name if known else None,
                ip=request.remote_addr,
                detail="a wrong password" if known else "a name that is no account",
            )
        elif user.totp_secret:
            audit.record(db, now, "code_asked", user=user.name, ip=request.remote_addr)
            key, name, asked = accounts.open_session(db, user, now, pending=True), user.name, True
        else:
            key = accounts.open_session(db, user, now)
            audit.record(db, now, "signed_in", user=user.name, ip=request.remote_addr)
            name, asked = user.name, False
    if user is None:
        # never the name as typed: people type their password in the wrong field
        log.warning("failed sign-in to the desk from %s", request.remote_addr)
        page = render_template(
            "desk/login.html", error="That name and password do not match.", username=username
        )
        return page, 401
    session.clear()  # a fresh session: nothing from before signing in carries over
    target = _desk_page(request.args.get("next", ""))
    if asked:
        session["desk_pending"] = key
        return redirect(url_for("desk.code", next=target), 303)
    session["desk_key"] = key
    log.info("%s signed in to the desk from %s", name, request.remote_addr)
    return redirect(target, 303)


def _pending_key() -> str:
    return str(session.get("desk_pending", ""))


def _waiting() -> bool:
    ctx = context()
    with ctx.database.session() as db:
        return accounts.pending(db, _pending_key(), ctx.clock.now()) is not None


@bp.get("/login/code")
def code() -> ResponseReturnValue:
    if not _waiting():
        session.pop("desk_pending", None)
        return redirect(url_for("desk.login", next=request.args.get("next", "")))
    return render_template("desk/code.html", error=None)


def _code_limit_key() -> str:
    return "desk-code:" + accounts.digest(_pending_key())


@bp.post("/login/code")
@limiter.limit("5 per minute", methods=["POST"], deduct_when=_failed, key_func=_code_limit_key)
def check_code() -> ResponseReturnValue:
    ctx = context()
    now = ctx.clock.now()
    typed = request.form.get("code", "")[:40]
    with ctx.database.session() as db:
        found = accounts.pending(db, _pending_key(), now)
        if found is None:
            key, name, how = None, None, None
        else:
            step, user = found
            how = accounts.check_code(db, user, typed, now)
            name = user.name
            if how is None:
                accounts.wrong_code(db, step)
                audit.record(db, now, "code_failed", user=user.name, ip=request.remote_addr)
                key = None
            else:
                step.ended_at = now  # the pending key is spent; the session gets a new one
                key = accounts.open_session(db, user, now)
                detail = f"with a {how}"
                audit.record(db, now, "signed_in", user=name, ip=request.remote_addr, detail=detail)
    if found is None:
        session.pop("desk_pending", None)
        return redirect(url_for("desk.login", next=request.args.get("next", "")), 303)
    if key is None:
        page = render_template(
            "desk/code.html", error="That code does not match. Try the one your app shows now."
        )
        return page, 401
    session.clear()
    session["desk_key"] = key
    log.info("%s signed in to the desk from %s", name, request.remote_addr)
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
    ctx = context()
    with ctx.database.session() as db:
        accounts.end_session(db, str(session.get("desk_key", "")), ctx.clock.now())
    write_audit("signed_out")
    session.clear()
    return redirect(url_for("desk.login"), 303)


#: Pages whose visit the audit log keeps: the reader or the words someone opened.
_OPENED = {
    "desk.reader": ("opened_reader", "public_id"),
    "desk.reply": ("read_reply", "reply_id"),
    "desk.reply_original": ("read_reply", "reply_id"),
}
#: Lists that show readers' words or addresses: the line says what was asked for.
_LISTED: dict[str, tuple[str | None, str]] = {
    "desk.replies": ("listed_replies", "searched_replies"),
    "desk.readers": (None, "searched_readers"),
    "desk.deliveries": ("listed_emails", "listed_emails"),
}
#: Pages that write their own line (or need none).
_SELF_AUDITED = OPEN | {
    "desk.logout",
    "desk.account_password",
    "desk.sign_out_everywhere",
    "desk.code_start",
    "desk.code_confirm",
    "desk.code_off",
    # the editor saves a draft every few seconds as she types; its publish is what is logged
    "desk.save_draft",
}


def _known_name(typed: str) -> str | None:
    """The account a typed name is, or None (a name as typed is never kept: it may be a
    password typed in the wrong field)."""
    with context().database.session(read_only=True) as db:
        known = accounts.find(db, typed[:200])
        return known.name if known else None


def _refused() -> bool:
    """Whether the page's flash says nothing was done (a refusal answered with a redirect)."""
    flashed = session.get("_flashes") or []
    return bool(flashed) and flashed[-1][0] == "error"


@bp.after_request
def _audit(response: Response) -> Response:
    """Every reader opened, every list of them looked through, and every change made (or
    refused) on the desk, in the audit log; sign-ins refused for too many tries too."""
    endpoint = request.endpoint or ""
    if response.status_code == 429 and endpoint in ("desk.sign_in", "desk.check_code"):
        write_audit("sign_in_throttled", user=_known_name(request.form.get("username", "")))
        return response
    if getattr(g, "desk_user", None) is None or response.status_code >= 400:
        return response
    if request.method == "GET" and endpoint in _OPENED:
        action, arg = _OPENED[endpoint]
        write_audit(action, str((request.view_args or {}).get(arg, "")))
    elif request.method == "GET" and endpoint in _LISTED:
        plain, searched = _LISTED[endpoint]
        asked = " ".join(f"{k}={v}" for k, v in request.args.items() if v)[:300]
        listed = searched if request.args.get("q") else plain
        if listed:
            write_audit(listed, asked or None)
    elif request.method == "POST" and endpoint not in _SELF_AUDITED:
        args = dict(request.view_args or {})
        action = str(args.pop("name", "")) or endpoint.removeprefix("desk.")
        detail = " ".join(f"{k}={v}" for k, v in args.items()) or None
        if _refused():
            action = f"{action}_refused"[:40]
        write_audit(action, detail)
    return response
