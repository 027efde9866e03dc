"""The list of a course's emails on the desk's editor: add an email after another, remove
one, move one up or down, change a wait. Each change goes into her draft
(``drafts.reshape``) and reaches readers only when she publishes; the publish page says
that a new list is for new readers while everyone already on the course finishes theirs.
Registered on the desk's blueprint (its sign-in guard and CSRF cover it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from service.courses import drafts, shape
from service.web.desk import bp
from service.web.desk.editor import _draft
from service.web.shared import context

ACTIONS = ("add", "remove", "up", "down", "wait")


def _whole(key: str) -> int | None:
    raw = request.form.get(key, "").strip()
    return int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 9 else None


@bp.post("/course/edit/list")
def reshape_course() -> ResponseReturnValue:
    ctx = context()
    action = request.form.get("action", "")
    index, seen = _whole("index"), _whole("revision")
    back = redirect(url_for("desk.editor_index") + "#emails", 303)
    if action not in ACTIONS or index is None or seen is None:
        flash("Nothing was changed: the page is out of date. Reload it and try again.", "error")
        return back
    change: Callable[[dict[str, str]], dict[str, str]]
    if action == "wait":
        days = _whole("days")
        if days is None:
            flash("Nothing was changed: a wait is a whole number of days, like 2.", "error")
            return back
        change = partial(shape.wait, index=index, days=days)
    elif action == "add":

        def change(files: dict[str, str]) -> dict[str, str]:
            return shape.add_after(files, index)[0]

    elif action == "remove":
        change = partial(shape.remove, index=index)
    else:
        change = partial(shape.move, index=index, by=-1 if action == "up" else 1)
    expected = request.form.get("file", "")

    def checked(files: dict[str, str]) -> dict[str, str]:
        """The change, on the email the page showed at that place (else refused)."""
        steps = shape.steps_of(files["course.toml"])
        if index >= len(steps) or steps[index][0] != expected:
            raise shape.ShapeError("the list of emails changed since this page was opened")
        return change(files)

    draft = _draft()
    try:
        with ctx.database.session() as session:
            drafts.reshape(
                session,
                draft.slug,
                checked,
                seen=seen,
                by=getattr(g, "desk_user", None) or "desk",
                now=ctx.clock.now(),
            )
    except (drafts.Conflict, shape.ShapeError) as refused:
        flash(f"Nothing was changed: {refused}.", "error")
        return back
    except IntegrityError:  # another tab began this draft at the same moment
        flash("Nothing was changed: the draft was saved from another tab. Try again.", "error")
        return back
    flash(_said(action), "done")
    return back


def _said(action: str) -> str:
    return {
        "add": "A new email is in your draft: open it to write its words.",
        "remove": "The email is gone from your draft.",
        "up": "The email moved one place earlier in your draft.",
        "down": "The email moved one place later in your draft.",
        "wait": "The wait is changed in your draft.",
    }[action] + " Nobody sees it until you publish."
