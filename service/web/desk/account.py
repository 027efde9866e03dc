"""``/admin/account``: your own account on the desk (a new password, the sign-in code and
its recovery codes, signing out everywhere) and ``/admin/audit``, the desk's audit log."""

from __future__ import annotations

import segno
from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from service.desk import accounts, audit
from service.web.desk import bp
from service.web.desk.signin import write_audit
from service.web.shared import context


def _qr(uri: str) -> str:
    """The setup address as a QR code, an SVG in a data: address (the CSP allows those)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, dark="#1d2a33", light="#ffffff"))


def _page(**extra: object) -> ResponseReturnValue:
    ctx = context()
    now = ctx.clock.now()
    with ctx.database.session(read_only=True) as db:
        user = accounts.by_id(db, g.desk_user_id)
        assert user is not None  # the guard found it a moment ago
        facts = {
            "name": user.name,
            "code_on": bool(user.totp_secret),
            "codes_left": accounts.recovery_codes_left(user),
            "sessions": accounts.open_sessions(db, user.id, now),
        }
    status = int(str(extra.pop("status", 200)))
    return render_template("desk/account.html", **facts, **extra), status


@bp.get("/account")
def account() -> ResponseReturnValue:
    return _page()


@bp.post("/account/password")
def account_password() -> ResponseReturnValue:
    ctx = context()
    form = request.form
    with ctx.database.session() as db:
        user = accounts.by_id(db, g.desk_user_id)
        assert user is not None
        if accounts.check_password(db, user.name, form.get("current", "")[:1000]) is None:
            error = "Your present password is not right."
        else:
            try:
                accounts.check_new_password(
                    form.get("new", "")[:1000], form.get("again", "")[:1000]
                )
                accounts.set_password(db, user, form["new"], ctx.clock.now())
                key = accounts.open_session(db, user, ctx.clock.now())
                error = None
            except accounts.AccountError as problem:
                error = str(problem)
    if error:
        return _page(password_error=error, status=400)
    session["desk_key"] = key  # this browser stays signed in; every other one is signed out
    write_audit("password_changed")
    flash("Your password is changed, and every other browser is signed out.", "done")
    return redirect(url_for("desk.account"), 303)


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere() -> ResponseReturnValue:
    ctx = context()
    with ctx.database.session() as db:
        user = accounts.by_id(db, g.desk_user_id)
        assert user is not None
        ended = accounts.end_all(db, user, ctx.clock.now())
    write_audit("signed_out_everywhere", f"{ended} sessions")
    session.clear()
    return redirect(url_for("desk.login"), 303)


@bp.post("/account/code")
def code_start() -> ResponseReturnValue:
    """The first step of turning the sign-in code on: the QR code for the app. The secret
    waits sealed on the account until a right code confirms it (never in the cookie)."""
    with context().database.session() as db:
        user = accounts.by_id(db, g.desk_user_id)
        assert user is not None
        secret = accounts.start_code(user)
        uri = accounts.setup_uri(user.name, secret)
    return _page(setup={"qr": _qr(uri), "secret": secret})


@bp.post("/account/code/confirm")
def code_confirm() -> ResponseReturnValue:
    ctx = context()
    with ctx.database.session() as db:
        user = accounts.by_id(db, g.desk_user_id)
        assert user is not None
        secret = user.totp_pending
        if not secret:
            return redirect(url_for("desk.account"), 303)
        try:
            codes = accounts.turn_on_code(
                db, user, request.form.get("code", "")[:40], ctx.clock.now()
            )
        except accounts.AccountError as problem:
            setup = {"qr": _qr(accounts.setup_uri(user.name, secret)), "secret": secret}
            return _page(setup=setup, code_error=str(problem), status=400)
    write_audit("code_turned_on")
    return _page(recovery_codes=codes)


@bp.post("/account/code/off")
def code_off() -> ResponseReturnValue:
    ctx = context()
    with ctx.database.session() as db:
        user = accounts.by_id(db, g.desk_user_id)
        assert user is not None
        right = accounts.check_password(db, user.name, request.form.get("current", "")[:1000])
        if right is None:
            return _page(off_error="Your present password is not right.", status=400)
        accounts.turn_off_code(user)
    write_audit("code_turned_off")
    flash("The sign-in code is off: your password alone opens the desk now.", "done")
    return redirect(url_for("desk.account"), 303)


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    raw = request.args.get("before", "")
    if raw and not (raw.isdecimal() and raw.isascii()):
        abort(400, description="before must be a whole number")
    ctx = context()
    with ctx.database.session(read_only=True) as db:
        lines = audit.page(db, before=int(raw) if raw else None)
    older = lines[-1].id if len(lines) == audit.PAGE else None
    return render_template("desk/audit.html", lines=lines, said=audit.said, older=older)
