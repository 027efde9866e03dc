"""``/admin/courses``: her courses (each one's page, embed and editor) and "New course", from
the blank template or as a copy of one published here. Every other course view takes
``?course=<slug>`` to be about that course (``service.web.desk`` keeps it in their links).
Registered on the desk's blueprint, so the sign-in guard covers every one of them."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from emails.course import CourseError, default_course, published_slugs, shipped_course
from service.courses import catalog, new_course
from service.web.desk import bp
from service.web.embed import embed_url
from service.web.shared import context, course_page_url


def taken_addresses() -> frozenset[str]:
    """The first part of every address the site answers (``admin``, ``embed``...): a course
    named like one would be hidden behind it."""
    firsts = set()
    for rule in current_app.url_map.iter_rules():
        first = rule.rule.strip("/").split("/", 1)[0]
        if first and not first.startswith("<"):
            firsts.add(first)
    return frozenset(firsts | {"static"})


@bp.get("/courses")
def courses_page() -> ResponseReturnValue:
    public = context().settings.PUBLIC_URL
    listed = []
    for slug in published_slugs():
        try:
            loaded = shipped_course(slug)
        except CourseError:
            continue
        listed.append(
            {
                "slug": slug,
                "title": loaded.title,
                "emails": len(loaded.steps),
                "page": public + course_page_url(slug),
                "embed": public + embed_url(slug),
            }
        )
    return render_template(
        "desk/courses.html",
        courses=listed,
        form=request.args.to_dict(),
        first=listed[0],
        public=public,
    )


@bp.post("/courses")
def make_course() -> ResponseReturnValue:
    ctx = context()
    title = request.form.get("title", "")[:300]
    slug = request.form.get("slug", "")[:100]
    copy_of = request.form.get("start", "blank")[:100]
    back = redirect(url_for("desk.courses_page", title=title, slug=slug, start=copy_of), 303)
    if copy_of != "blank" and copy_of not in published_slugs():
        flash("Not made: please choose the blank template or one of your courses.", "error")
        return back
    try:
        with ctx.database.session() as session:
            new_course.make(
                session,
                title=title,
                slug=slug,
                copy_of=None if copy_of == "blank" else copy_of,
                first=default_course(),
                taken=taken_addresses(),
                by=getattr(g, "desk_user", None) or "desk",
                now=ctx.clock.now(),
            )
    except new_course.Refused as refused:
        flash(f"Not made: {refused}", "error")
        return back
    except IntegrityError:  # the same address made from another tab at the same moment
        flash("Not made: a course with that address was made at the same moment.", "error")
        return back
    catalog.refresh(ctx.database)
    slug = slug.strip().lower()
    flash(
        f"{' '.join(title.split())} is made. Write its emails here, then share its page: "
        "until you do, nobody knows its address.",
        "done",
    )
    return redirect(url_for("desk.editor_index", course=slug), 303)
