"""The course editor on the desk: each email as a form beside its preview at phone and
computer width (rendered by the same code that sends it), saved as a draft as she types and
checked as ``coursemail course check`` checks; **Publish** makes a new version after showing
what changes and the rule for readers already on the course; the versions, their readers, a
word-level comparison and "roll back". Registered on the desk's blueprint (its sign-in guard
and CSRF cover every one of these)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from emails.course import CONFIRMATION_FILE, Course, CourseError, confirmation_step
from emails.render import Renderer
from emails.step import read_text
from service import queues
from service.courses import drafts, shape, versions
from service.desk import preview
from service.web.desk import bp
from service.web.desk.course import FRAME_POLICY, send_a_test
from service.web.shared import context, course

#: The most a field may hold (a whole email is far less).
MAX_FIELD = 100_000


def _slug() -> str:
    return course().slug


def _draft() -> drafts.Draft:
    with context().database.session(read_only=True) as session:
        try:
            return drafts.current(session, _slug())
        except drafts.NoCourse:
            abort(404, description="The course has no published version to edit yet.")


def draft_steps(draft: drafts.Draft) -> shape.Steps:
    """The draft's own list of emails (file, wait), even while a check fails."""
    try:
        return shape.steps_of(draft.files["course.toml"])
    except (KeyError, shape.ShapeError):
        abort(409, description="The draft's course.toml cannot be read: discard the draft.")


def _loaded(draft: drafts.Draft) -> Course | None:
    """The course the draft makes, or None while it fails a check."""
    try:
        return versions.load(draft.slug, draft.files)
    except CourseError:
        return None


def _name_of(loaded: Course | None, index: int, name: str) -> str:
    """ "Step 4", "The welcome"… as the draft (``loaded``) makes them; "Email N" while it
    fails a check."""
    if loaded is not None and loaded.steps[index].path.name == name:
        return loaded.email_name(index)
    return f"Email {index + 1}"


def _target(draft: drafts.Draft, which: str) -> tuple[str, int | None, str]:
    """The file, step (None: the confirmation) and name of the email ``which`` names in
    the page's address: "confirmation" or its place in the draft's list."""
    if which == "confirmation":
        return CONFIRMATION_FILE, None, "The confirmation"
    steps = draft_steps(draft)
    if not (which.isascii() and which.isdecimal() and int(which) < len(steps)):
        abort(404, description="The course has no such email.")
    index = int(which)
    name = steps[index][0]
    if name not in draft.files:
        abort(404, description="The course has no such email.")
    return name, index, _name_of(_loaded(draft), index, name)


def _text_of(draft: drafts.Draft, name: str) -> str:
    """The email's words in the draft (the shared confirmation until she edits it)."""
    if name in draft.files:
        return draft.files[name]
    return read_text(confirmation_step().path)


def _published(draft: drafts.Draft) -> Course | None:
    """The course the draft makes, or the published one while the draft fails a check."""
    try:
        return versions.load(draft.slug, draft.files)
    except CourseError:
        with context().database.session(read_only=True) as session:
            newest = versions.newest(session, draft.slug)
            return None if newest is None else versions.load(draft.slug, versions.files_of(newest))


@bp.get("/course/edit")
def editor_index() -> ResponseReturnValue:
    draft = _draft()
    with context().database.session(read_only=True) as session:
        base = versions.newest(session, draft.slug)
        published = versions.files_of(base) if base else {}
    steps, loaded = draft_steps(draft), _loaded(draft)
    emails = [
        (
            index,
            _name_of(loaded, index, name),
            drafts.fields_of(draft.files.get(name, ""))["subject"],
            draft.files.get(name) != published.get(name),
            days,
            name,
        )
        for index, (name, days) in enumerate(steps)
    ]
    confirmation_changed = draft.files.get(CONFIRMATION_FILE) != published.get(CONFIRMATION_FILE)
    return render_template(
        "desk/editor_index.html",
        draft=draft,
        emails=emails,
        confirmation_changed=confirmation_changed,
        list_revision=draft.revisions.get("course.toml", 0),
        list_changed=steps != _published_steps(published),
    )


def _published_steps(files: dict[str, str]) -> shape.Steps:
    try:
        return shape.steps_of(files.get("course.toml", ""))
    except shape.ShapeError:
        return []


@bp.get("/course/edit/<which>")
def edit_email(which: str) -> ResponseReturnValue:
    draft = _draft()
    name, index, title = _target(draft, which)
    _, problems = drafts.check(draft.slug, draft.files, name)
    loaded = _published(draft)
    lesson = index is not None and (
        loaded is None
        or index >= len(loaded.steps)
        or loaded.steps[index].path.name != name
        or bool(loaded.steps[index].name)
    )
    return render_template(
        "desk/editor.html",
        which=which,
        title=title,
        fields=drafts.fields_of(_text_of(draft, name)),
        revision=draft.revisions.get(name, 0),
        file=name,
        problems=problems,
        draft=draft,
        lesson=lesson,
    )


@bp.post("/course/edit/<which>")
def save_draft(which: str) -> ResponseReturnValue:
    """Save one email of the draft: JSON for the page's script (every few seconds as she
    types), a redirect for a browser without it."""
    ctx = context()
    draft = _draft()
    name, _, _ = _target(draft, which)
    wants_json = request.accept_mimetypes.best == "application/json"
    fields = {f: request.form.get(f, "")[:MAX_FIELD] for f, _ in drafts.HEADER_FIELDS}
    fields["body"] = request.form.get("body", "")[:MAX_FIELD]
    seen_raw = request.form.get("revision", "")
    if not (seen_raw.isascii() and seen_raw.isdecimal() and len(seen_raw) < 9):
        return _answer(wants_json, 400, "The form is out of date: reload the page.", which)
    if request.form.get("file", name) != name:
        said = (
            "Not saved: the list of emails changed in another tab since you opened this one. "
            "Copy your words somewhere safe, then open the email again from the list."
        )
        return _answer(wants_json, 409, said, which)
    text = drafts.compose(fields)
    try:
        with ctx.database.session() as session:
            revision = drafts.save(
                session,
                draft.slug,
                name,
                text,
                seen=int(seen_raw),
                by=getattr(g, "desk_user", None) or "desk",
                now=ctx.clock.now(),
            )
    except drafts.Conflict as conflict:
        said = f"Not saved: {conflict}. Copy your words somewhere safe, then reload the page."
        return _answer(wants_json, 409, said, which)
    except KeyError:  # the email left the draft's list in another tab meanwhile
        said = (
            "Not saved: this email is no longer in your draft's list. Copy your words "
            "somewhere safe, then open the list of emails again."
        )
        return _answer(wants_json, 409, said, which)
    except IntegrityError:  # another tab saved this draft's first words at the same moment
        said = (
            "Not saved: this draft was saved from another tab at the same moment. Copy your "
            "words somewhere safe, then reload the page."
        )
        return _answer(wants_json, 409, said, which)
    _, problems = drafts.check(draft.slug, {**draft.files, name: text}, name)
    if not wants_json:
        flash("Draft saved." if not problems else "Draft saved, with a problem to fix.", "done")
        return redirect(url_for("desk.edit_email", which=which), 303)
    return jsonify(
        revision=revision,
        saved=ctx.clock.now().strftime("%H:%M:%S"),
        problems=[
            {"field": p.field, "line": p.line, "message": p.message, "said": p.said}
            for p in problems
        ],
    )


def _answer(wants_json: bool, status: int, said: str, which: str) -> ResponseReturnValue:
    if wants_json:
        return jsonify(error=said, status=status), status
    flash(said, "error")
    return redirect(url_for("desk.edit_email", which=which), 303)


@bp.get("/course/edit/<which>/html")
def draft_html(which: str) -> ResponseReturnValue:
    """The draft email as it would be sent (framed on the editor page, inert)."""
    draft = _draft()
    name, index, _ = _target(draft, which)
    loaded, problems = drafts.check(draft.slug, draft.files, name)
    if loaded is None:
        body = (
            "<!doctype html><meta charset=utf-8><title>Not shown</title>"
            "<p style='font:16px sans-serif;padding:1em'>The preview waits until this is "
            f"fixed: {_escape(problems[0].said)}</p>"
        )
    else:
        renderer = Renderer(loaded, context().contact(loaded))
        discreet = request.args.get("discreet") == "1"
        body = preview.sample(
            renderer, context().settings, index, now=context().clock.now(), discreet=discreet
        ).html
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": FRAME_POLICY,
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "no-store",
    }
    return body, 200, headers


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


@bp.post("/course/edit/<which>/test")
def send_draft_test(which: str) -> ResponseReturnValue:
    draft = _draft()
    _, index, _ = _target(draft, which)
    send_a_test(queues.SEND_DRAFT_TEST, draft.slug, index, what="A test of your draft")
    return redirect(url_for("desk.edit_email", which=which), 303)


@bp.get("/course/publish")
def publish_page() -> ResponseReturnValue:
    draft = _draft()
    with context().database.session(read_only=True) as session:
        base = versions.newest(session, draft.slug)
        assert base is not None
        published = versions.files_of(base)
    problems: list[drafts.Problem] = []
    kind = "unchanged"
    try:
        versions.load(draft.slug, draft.files)
        with context().database.session(read_only=True) as session:
            kind = versions.what_publishing_does(session, draft.slug, draft.files)
    except CourseError as error:
        problems = [drafts.Problem("course", None, str(error))]
    changes = {
        name: versions.word_diff(published.get(name, ""), draft.files.get(name, ""))
        for name in sorted(set(published) | set(draft.files))
        if published.get(name) != draft.files.get(name)
    }
    return render_template(
        "desk/publish.html",
        draft=draft,
        kind=kind,
        changes=changes,
        problems=problems,
        base=base.number,
        stale=base.number != draft.base_number,
    )


@bp.post("/course/publish")
def publish_draft() -> ResponseReturnValue:
    ctx = context()
    note = request.form.get("note", "").strip()[:2000]
    draft = _draft()
    try:
        with ctx.database.session() as session:
            base = versions.newest(session, draft.slug)
            if base is not None and base.number != draft.base_number and draft.changed:
                flash(
                    f"Not published: version {base.number} was published after your draft "
                    "began. Compare them below, then discard your draft or copy your changes "
                    "into a fresh one.",
                    "error",
                )
                return redirect(url_for("desk.publish_page"), 303)
            done = drafts.publish(
                session,
                draft.slug,
                note=note,
                by=getattr(g, "desk_user", None) or "desk",
                now=ctx.clock.now(),
            )
    except CourseError as error:
        flash(f"Not published: {error}", "error")
        return redirect(url_for("desk.publish_page"), 303)
    except IntegrityError:  # a version was published from elsewhere at the same moment
        flash(
            "Not published: another version was published at the same moment. Look at the "
            "versions, then publish again if your changes are still needed.",
            "error",
        )
        return redirect(url_for("desk.versions_page"), 303)
    said = {
        "unchanged": "Nothing changed: your draft is the same as the version published now.",
        "words": f"Version {done.number} is published: every reader's unsent emails carry it.",
        "shape": (
            f"Version {done.number} is published for new readers; everyone already on the "
            "course finishes the version they began."
        ),
        "first": f"Version {done.number} is published.",
    }[done.kind]
    flash(said, "done")
    return redirect(url_for("desk.versions_page"), 303)


@bp.post("/course/draft/discard")
def discard_draft() -> ResponseReturnValue:
    with context().database.session() as session:
        drafts.discard(session, _slug())
    flash("Your draft is gone; the emails are as published.", "done")
    return redirect(url_for("desk.editor_index"), 303)


@bp.get("/course/versions")
def versions_page() -> ResponseReturnValue:
    slug = _slug()
    with context().database.session(read_only=True) as session:
        rows = versions.history(session, slug)
        compared: dict[str, Any] | None = None
        first, second = _number("a"), _number("b")
        if first is not None and second is not None:
            try:
                compared = {
                    "a": first,
                    "b": second,
                    "changes": versions.compare(session, slug, first, second),
                }
            except CourseError as error:
                flash(str(error.message), "error")
    return render_template("desk/versions.html", rows=rows, compared=compared)


def _number(key: str) -> int | None:
    raw = request.args.get(key, "")
    return int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 9 else None


@bp.post("/course/versions/<int:number>/rollback")
def roll_back(number: int) -> ResponseReturnValue:
    ctx = context()
    try:
        with ctx.database.session() as session:
            done = versions.roll_back(
                session,
                _slug(),
                number,
                by=getattr(g, "desk_user", None) or "desk",
                now=ctx.clock.now(),
            )
    except CourseError as error:
        flash(f"Nothing was changed: {error.message}", "error")
        return redirect(url_for("desk.versions_page"), 303)
    flash(f"Version {number}'s words are published again, as version {done.number}.", "done")
    return redirect(url_for("desk.versions_page"), 303)
