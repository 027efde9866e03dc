"""One email file: header lines, a blank line, then the body in Markdown.

    Subject: Step 1 of 6: Deciding it's worth it
    Name: Commit to moving forward
    Preview: Before anything else, both of you choose the relationship.

    Hi {{ first_name or "there" }}, ...

Written by a person, not a programmer: every problem is a ``CourseError`` that reads
``file:line: what is wrong``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import meta

#: Placeholders a step may use; anything else is a typo that would print as blank.
STEP_PLACEHOLDERS = frozenset(
    {
        "first_name",
        "therapist_name",
        "therapist_email",
        "therapist_phone",
        "forgiveness_post",
        "blog_url",
        "blog_link",
        "archive_url",
        "replies_note",
        "course_title",
        "author",
        "step_number",
        "step_count",
    }
)
STEP_HEADERS = {"subject", "name", "preview", "discreet-subject", "discreet-preview"}


class CourseError(Exception):
    """A course file is wrong; ``str()`` reads ``path:line: message``."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Step:
    index: int
    path: Path
    subject: str
    name: str
    preview: str
    delay_days: int
    body: str
    #: the line of the file on which ``body`` starts, to report template errors precisely
    body_line: int
    #: for a reader who asked for discretion: a subject and preview line that do not say
    #: what the email is about (empty: the course's defaults)
    discreet_subject: str = ""
    discreet_preview: str = ""


def load_step(
    path: Path,
    *,
    index: int = 0,
    delay_days: int = 0,
    placeholders: frozenset[str] = STEP_PLACEHOLDERS,
    text: str | None = None,
) -> Step:
    """Read one email file (or ``text``, its words as held elsewhere, ``path`` naming it):
    header lines, a blank line, then a Markdown body."""
    lines = (read_text(path) if text is None else text).splitlines()
    headers: dict[str, str] = {}
    number = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            break
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not colon or key not in STEP_HEADERS:
            raise CourseError(
                path,
                number,
                "expected a header line such as 'Subject: ...' (known: Subject, Name, Preview,"
                " Discreet-Subject, Discreet-Preview), then a blank line before the body",
            )
        if key in headers:
            raise CourseError(path, number, f"{key.title()} is given twice")
        headers[key] = value.strip()
    else:
        raise CourseError(path, number or 1, "the email has no body: add a blank line, then text")
    if not headers.get("subject"):
        raise CourseError(path, 1, "missing 'Subject:' line (the first lines are headers)")
    body = "\n".join(lines[number:]).strip("\n")
    if not body.strip():
        raise CourseError(path, number + 1, "the email's body is empty")
    body_line = number + 1
    _check_template(path, headers["subject"], 1, placeholders)
    _check_template(path, headers.get("discreet-subject", ""), 1, placeholders)
    _check_template(path, body, body_line, placeholders)
    return Step(
        index=index,
        path=path,
        subject=headers["subject"],
        name=headers.get("name", ""),
        preview=headers.get("preview", ""),
        discreet_subject=headers.get("discreet-subject", ""),
        discreet_preview=headers.get("discreet-preview", ""),
        delay_days=delay_days,
        body=body,
        body_line=body_line,
    )


def _check_template(path: Path, text: str, first_line: int, allowed: frozenset[str]) -> None:
    env = jinja2.Environment(autoescape=True)
    try:
        tree = env.parse(text)
    except jinja2.TemplateSyntaxError as error:
        line = first_line + (error.lineno or 1) - 1
        raise CourseError(path, line, f"template error: {error.message}") from None
    unknown = meta.find_undeclared_variables(tree) - allowed
    if unknown:
        name = sorted(unknown)[0]
        offset = next((n for n, line in enumerate(text.splitlines()) if name in line), 0)
        raise CourseError(
            path,
            first_line + offset,
            f"unknown placeholder {{{{ {name} }}}} (known: {', '.join(sorted(allowed))})",
        )


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CourseError(path, None, "file not found") from None
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise CourseError(path, line, "not UTF-8 text (save the file as UTF-8)") from None
