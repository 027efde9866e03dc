"""The shape of a course in a draft: which emails, in which order, after which wait.

A course's shape is the ``[[steps]]`` tables of its course.toml. The desk changes it here:
add an email after another, remove one, move one up or down, change a wait. Only the
``[[steps]]`` lines are rewritten; every other line of course.toml (her details, the comments)
stays exactly as it was. Publishing a new shape makes a new version for new readers; those
already on the course finish the version they began (``versions.publish``).
"""

from __future__ import annotations

import json
import re
import tomllib

#: The longest wait the course checks allow between two emails.
MOST_DAYS = 365

#: A new email's words until she writes her own (the course checks accept them as they are).
NEW_EMAIL = """Subject: (A subject for this email)
Name: (A short name for this step)
Preview: (The line readers see beside the subject.)

Hi {{ first_name or "there" }},

(Write this email here.)
"""


class ShapeError(ValueError):
    """The change cannot be made; the message says why, for her."""


Steps = list[tuple[str, int]]

#: A ``[[steps]]`` header, as TOML allows it written (spaces, a comment after it).
STEPS_HEADER = re.compile(r"^\s*\[\[\s*steps\s*\]\]\s*(#.*)?$")
#: Any other table's header.
TABLE_HEADER = re.compile(r"^\s*\[")
#: The lines a step table may hold for the desk to rewrite it.
STEP_LINE = re.compile(r"^\s*(file|delay_days)\s*=")

LAID_OUT = (
    "the list of emails in course.toml is written in a way the desk cannot change without "
    "losing something (another table or a comment among the [[steps]]): change it with "
    "`coursemail course import`, or put the [[steps]] tables together"
)


def steps_of(toml: str) -> Steps:
    """The (file, wait in days) of each email, in order."""
    try:
        data = tomllib.loads(toml)
        return [(str(step["file"]), int(step.get("delay_days", 0))) for step in data["steps"]]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise ShapeError(f"course.toml cannot be read: {error}") from None


def with_steps(toml: str, steps: Steps) -> str:
    """``toml`` with its ``[[steps]]`` tables replaced by ``steps``; nothing else changes.
    Refused (``ShapeError``) when the tables are laid out so that something else would."""
    lines = toml.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if STEPS_HEADER.match(line)]
    if not starts:
        raise ShapeError("course.toml has no [[steps]] to change")
    end = next(
        (
            i
            for i in range(starts[-1] + 1, len(lines))
            if TABLE_HEADER.match(lines[i]) and not STEPS_HEADER.match(lines[i])
        ),
        len(lines),
    )
    # Comments and blank lines just above the next table belong to it.
    while end > starts[-1] + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    for line in lines[starts[0] : end]:
        if line.strip() and not (STEPS_HEADER.match(line) or STEP_LINE.match(line)):
            raise ShapeError(LAID_OUT)
    tables = "\n".join(
        f"[[steps]]\nfile = {json.dumps(name)}\ndelay_days = {int(days)}\n" for name, days in steps
    )
    written = "".join(lines[: starts[0]]) + tables + "".join(lines[end:])
    if steps_of(written) != [(name, int(days)) for name, days in steps]:
        raise ShapeError(LAID_OUT)
    return written


def _checked_index(steps: Steps, index: int) -> None:
    if not 0 <= index < len(steps):
        raise ShapeError("the course has no such email (it may have changed in another tab)")


def add_after(files: dict[str, str], index: int) -> tuple[dict[str, str], int]:
    """Add a new email after the one at ``index`` (two days later); returns the files and
    the new email's place."""
    steps = steps_of(files["course.toml"])
    _checked_index(steps, index)
    number = 1
    while f"new-email-{number}.md" in files:
        number += 1
    name = f"new-email-{number}.md"
    steps.insert(index + 1, (name, 2))
    return {**files, name: NEW_EMAIL, "course.toml": with_steps(files["course.toml"], steps)}, (
        index + 1
    )


def remove(files: dict[str, str], index: int) -> dict[str, str]:
    """Remove the email at ``index`` (its words go with it; earlier versions keep theirs)."""
    steps = steps_of(files["course.toml"])
    _checked_index(steps, index)
    if len(steps) == 1:
        raise ShapeError("a course needs at least one email")
    name, _ = steps.pop(index)
    kept = {key: text for key, text in files.items() if key != name}
    kept["course.toml"] = with_steps(files["course.toml"], steps)
    return kept


def move(files: dict[str, str], index: int, by: int) -> dict[str, str]:
    """Move the email at ``index`` one place earlier (``by=-1``) or later (``by=1``); each
    email keeps its own wait."""
    steps = steps_of(files["course.toml"])
    _checked_index(steps, index)
    other = index + by
    if not 0 <= other < len(steps):
        raise ShapeError("that email is already at that end of the course")
    steps[index], steps[other] = steps[other], steps[index]
    return {**files, "course.toml": with_steps(files["course.toml"], steps)}


def wait(files: dict[str, str], index: int, days: int) -> dict[str, str]:
    """Change how many days after the email before it the one at ``index`` arrives."""
    steps = steps_of(files["course.toml"])
    _checked_index(steps, index)
    if not 0 <= days <= MOST_DAYS:
        raise ShapeError(f"a wait is a whole number of days from 0 to {MOST_DAYS}")
    steps[index] = (steps[index][0], days)
    return {**files, "course.toml": with_steps(files["course.toml"], steps)}
