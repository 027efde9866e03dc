"""Course folders: a ``course.toml`` for the rhythm and one text file per email.

A step file reads like an email (see ``emails.step``). Everything here is written by a
person, not a programmer, so every problem is reported as ``file:line: what is wrong`` and
nothing half-loaded is ever used.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emails.discretion import Discretion, subject_problem
from emails.step import CourseError, Step, load_step, read_text

__all__ = ["Course", "CourseError", "Step", "default_course", "load_course", "load_step"]

COURSES_DIR = Path(__file__).with_name("courses")
#: What a new course made on the desk starts from, when it is not a copy.
BLANK_DIR = Path(__file__).with_name("blank")
SYSTEM_DIR = Path(__file__).with_name("system")

COURSE_KEYS = {
    "slug",
    "title",
    "version",
    "description",
    "author",
    "sender_name",
    "send_hour",
    "timezone",
    "language",
    "weekends",
    "discreet",
    "steps",
    "post",
    "contact",
}
STEP_KEYS = {"file", "delay_days"}
#: ``[post]``: the piece of writing a step refers to by name (the forgiveness post).
POST_KEYS = {"title", "url"}
#: ``[contact]``: the author's details, the shipped defaults for THERAPIST_NAME/EMAIL/PHONE.
CONTACT_KEYS = {"name", "email", "phone", "country_code"}
#: ``[discreet]``: what a discreet reader's inbox shows instead (``emails.discretion``).
DISCREET_KEYS = {"sender", "subject", "preview", "words"}
#: A language tag (BCP 47) for ``<html lang>``: "en", "en-GB", "pt-BR"...
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
#: A country calling code for the phone's tap-to-call link: "+1", "+44"...
_COUNTRY_CODE = re.compile(r"^\+[1-9][0-9]{0,3}$")
#: The reader's quiet hours: no email arrives from QUIET_FROM:00 until QUIET_UNTIL:00 local.
QUIET_FROM, QUIET_UNTIL = 21, 7
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: The course a fresh install starts with (the package's own folder).
FIRST_COURSE = "rebuilding-trust"
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


@dataclass(frozen=True)
class Course:
    path: Path
    slug: str
    title: str
    version: int
    description: str
    author: str | None
    sender_name: str | None
    send_hour: int
    timezone: str
    steps: tuple[Step, ...]
    #: the emails' language, for ``<html lang>`` and the pages
    language: str = "en"
    #: whether emails may arrive on Saturdays and Sundays
    weekends: bool = True
    #: what a reader who asked for discretion sees instead of the course (its words
    #: include every word of the title)
    discreet: Discretion = field(default_factory=Discretion)
    #: the post the course names (``{{ forgiveness_post }}``) and where it is read
    post_title: str = ""
    post_url: str = ""
    #: the author's contact details; settings (THERAPIST_NAME/EMAIL/PHONE) override them
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    #: the phone's country calling code, for the tap-to-call link (``tel:+1…``)
    contact_country_code: str = ""
    #: which published text this is (a digest of its files; empty for a folder read as is):
    #: what a process's renderers are kept by
    revision: str = ""
    #: the course's own confirmation email (its ``confirm.md``), when it has one
    confirmation: Step | None = None

    @property
    def confirmation_email(self) -> Step:
        """The confirmation email: the course's own, or the shared one."""
        return self.confirmation or confirmation_step()

    @property
    def lesson_steps(self) -> tuple[Step, ...]:
        """The numbered steps: those with a ``Name:`` (not the welcome or the closing)."""
        return tuple(step for step in self.steps if step.name)

    def step(self, index: int) -> Step:
        return self.steps[index]

    def email_name(self, index: int | None) -> str:
        """How the desk and the command line call an email: "The confirmation", "The
        welcome", "Step 1" ... "Step 6", "The closing" (one word for each, everywhere)."""
        if index is None:
            return "The confirmation"
        lessons = [step.index for step in self.lesson_steps]
        if index in lessons:
            return f"Step {lessons.index(index) + 1}"
        if index == 0:
            return "The welcome"
        return "The closing" if index == len(self.steps) - 1 else f"Email {index + 1}"


def load_course(folder: Path, files: Mapping[str, str] | None = None) -> Course:
    """Read and check a course folder (or, given ``files``, its files' text by name, as a
    published version holds them; ``folder`` then only names them in messages); raise
    ``CourseError`` naming the file and line."""
    path = folder / "course.toml"
    if files is not None and "course.toml" not in files:
        raise CourseError(path, None, "file not found")
    source = read_text(path) if files is None else files["course.toml"]
    data = _parse_toml(path, source)
    checker = _Checker(path, source)
    checker.known_keys(data, COURSE_KEYS)
    for key in ("slug", "title", "version", "send_hour", "timezone", "steps"):
        if key not in data:
            raise CourseError(path, None, f"missing required setting {key!r}")
    facts = checker.facts(data)
    post = checker.table(data, "post", POST_KEYS)
    contact = checker.table(data, "contact", CONTACT_KEYS)
    steps = _load_steps(folder, checker, data["steps"], files)
    confirmation = _own_confirmation(folder, files)
    discreet = checker.discretion(data.get("discreet", {})).with_title(str(facts["title"]))
    _check_discreet_lines(steps, discreet, checker, files, confirmation)
    code = contact.get("country_code", "")
    if code and not _COUNTRY_CODE.match(code):
        raise checker.fail(
            "country_code",
            'country_code is a calling code like "+1" or "+44"',
            section="[contact]",
        )
    if not post.get("title") and any("forgiveness_post" in step.body for step in steps):
        raise checker.fail(
            "steps", "an email names {{ forgiveness_post }}: give its title under [post]"
        )
    return Course(
        path=folder,
        steps=steps,
        confirmation=confirmation,
        discreet=discreet,
        post_title=post.get("title", ""),
        post_url=post.get("url", ""),
        contact_name=contact.get("name", ""),
        contact_email=contact.get("email", ""),
        contact_phone=contact.get("phone", ""),
        contact_country_code=contact.get("country_code", ""),
        **facts,
    )


def _parse_toml(path: Path, source: str) -> dict[str, object]:
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        match = _TOML_LINE.search(str(error))
        line = int(match.group(1)) if match else None
        if line is None and "end of document" in str(error):
            line = max(1, len(source.splitlines()))
        message = _TOML_LINE.sub("", str(error)).replace("(at end of document)", "").strip()
        if line == len(source.splitlines()) and "end of document" in str(error):
            message += " (the file ends too early: is a bracket or quote left open?)"
        raise CourseError(path, line, message) from None


class _Checker:
    """Checks ``course.toml``'s values, naming the line each problem is on."""

    def __init__(self, path: Path, source: str) -> None:
        self.path, self.source = path, source

    def line_of(self, needle: str, *, section: str = "") -> int | None:
        """The first line holding ``needle`` (after the line ``section``, when given)."""
        lines = self.source.splitlines()
        start = next((n for n, line in enumerate(lines) if line.strip() == section), 0)
        for number, line in enumerate(lines[start:], start=start + 1):
            if needle in line and not line.lstrip().startswith("#"):
                return number
        return None

    def fail(self, key: str, message: str, *, section: str = "") -> CourseError:
        return CourseError(self.path, self.line_of(key, section=section), message)

    def known_keys(
        self, data: dict[str, object], known: set[str], *, where: str = "", section: str = ""
    ) -> None:
        for key in data:
            if key not in known:
                listed = ", ".join(sorted(known))
                raise self.fail(
                    key, f"{where}unknown setting {key!r} (known: {listed})", section=section
                )

    def facts(self, data: dict[str, object]) -> dict[str, Any]:
        """The course's own settings, checked one by one."""
        slug, title, version = data["slug"], data["title"], data["version"]
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise self.fail("slug", "slug must be lower-case letters, digits and dashes")
        if not isinstance(title, str) or not title.strip():
            raise self.fail("title", "title must be some text")
        if not _whole(version) or version < 1:
            raise self.fail("version", "version must be a whole number, 1 or more")
        send_hour, timezone = data["send_hour"], data["timezone"]
        if not _whole(send_hour) or not QUIET_UNTIL <= send_hour < QUIET_FROM:
            raise self.fail(
                "send_hour",
                f"send_hour must be a whole hour from {QUIET_UNTIL} to {QUIET_FROM - 1}: no email "
                f"arrives between {QUIET_FROM}:00 and {QUIET_UNTIL:02d}:00 in the reader's time",
            )
        weekends = data.get("weekends", True)
        if not isinstance(weekends, bool):
            raise self.fail("weekends", "weekends is true or false")
        if not isinstance(timezone, str) or not is_time_zone(timezone):
            raise self.fail(
                "timezone", f"unknown time zone {timezone!r} (try e.g. 'America/Los_Angeles')"
            )
        language = data.get("language", "en")
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise self.fail("language", 'language is a tag like "en" or "en-GB"')
        if not isinstance(data.get("description", ""), str):
            raise self.fail("description", "description must be text")
        for key in ("author", "sender_name"):
            self.line(key, data.get(key, ""))
        return {
            "slug": slug,
            "title": title.strip(),
            "version": version,
            "description": " ".join(str(data.get("description", "")).split()),
            "author": data.get("author"),
            "sender_name": data.get("sender_name"),
            "send_hour": send_hour,
            "timezone": timezone,
            "language": language,
            "weekends": weekends,
        }

    def line(self, key: str, value: object, *, section: str = "") -> str:
        if not isinstance(value, str) or "\n" in value.strip():
            raise self.fail(key, f"{key} must be a line of text", section=section)
        return value.strip()

    def table(self, data: dict[str, object], name: str, known: set[str]) -> dict[str, str]:
        """An optional table of one-line texts: ``[post]`` or ``[contact]``."""
        table, section = data.get(name, {}), f"[{name}]"
        if not isinstance(table, dict):
            raise self.fail(name, f"{name} must be a [{name}] table")
        self.known_keys(table, known, where=f"{section}: ", section=section)
        values = {k: self.line(k, v, section=section) for k, v in table.items()}
        if values.get("url") and not values["url"].startswith(("https://", "http://")):
            raise self.fail(
                "url", "url must be a web address starting with https://", section=section
            )
        email = values.get("email", "")
        if email and (email.count("@") != 1 or " " in email or email.endswith("@")):
            raise self.fail("email", f"{email!r} is not an email address", section=section)
        return values

    def discretion(self, table: object) -> Discretion:
        """``[discreet]``: the sender, subject pattern and preview, and the words to avoid."""
        section = "[discreet]"
        if not isinstance(table, dict):
            raise self.fail("discreet", "discreet must be a [discreet] table")
        self.known_keys(table, DISCREET_KEYS, where=f"{section}: ", section=section)
        texts = {k: self.line(k, v, section=section) for k, v in table.items() if k != "words"}
        problem = subject_problem(texts.get("subject", Discretion.subject))
        if problem:
            raise self.fail("subject", problem, section=section)
        words = table.get("words", [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise self.fail("words", "words is a list of words in quotes", section=section)
        defaults = Discretion()
        return Discretion(
            sender=texts.get("sender") or defaults.sender,
            subject=texts.get("subject") or defaults.subject,
            preview=texts.get("preview") or defaults.preview,
            words=tuple(w.strip().lower() for w in words),
        )


#: What the confirmation email (``system/confirm.md``) may name.
CONFIRM_PLACEHOLDERS = frozenset({"first_name", "course_title", "author", "therapist_name"})


@cache
def confirmation_step() -> Step:
    return load_step(SYSTEM_DIR / "confirm.md", placeholders=CONFIRM_PLACEHOLDERS)


@cache
def already_step() -> Step:
    """The note to a reader already on the course who signed up again."""
    return load_step(SYSTEM_DIR / "already.md", placeholders=CONFIRM_PLACEHOLDERS)


@cache
def private_step() -> Step:
    """The email with a fresh private link, which a reader asked for."""
    return load_step(SYSTEM_DIR / "private.md", placeholders=CONFIRM_PLACEHOLDERS)


#: A course's own confirmation email, beside course.toml (optional: else the shared one).
CONFIRMATION_FILE = "confirm.md"


def _own_confirmation(folder: Path, files: Mapping[str, str] | None) -> Step | None:
    path = folder / CONFIRMATION_FILE
    if files is None:
        return load_step(path, placeholders=CONFIRM_PLACEHOLDERS) if path.is_file() else None
    if CONFIRMATION_FILE not in files:
        return None
    return load_step(path, placeholders=CONFIRM_PLACEHOLDERS, text=files[CONFIRMATION_FILE])


def _check_discreet_lines(
    steps: tuple[Step, ...],
    discreet: Discretion,
    checker: _Checker,
    files: Mapping[str, str] | None = None,
    confirmation: Step | None = None,
) -> None:
    """No discreet line may hold the course's title or one of its forbidden words (the
    confirmation email's included: it is the first a discreet reader gets)."""
    count = len(steps)
    for key, text in (
        ("sender", discreet.sender),
        ("subject", discreet.subject_for(1, count)),
        ("preview", discreet.preview),
    ):
        word = discreet.named_in(text)
        if word:
            # a line of the file's own, else the words that rule out the default wording
            line = checker.line_of(key, section="[discreet]") or checker.line_of(
                "words", section="[discreet]"
            )
            raise CourseError(checker.path, line, f"{key} {text!r} holds {word!r}: it must not")
    for step in (*steps, confirmation or confirmation_step(), already_step(), private_step()):
        for header, text in (
            ("Discreet-Subject", step.discreet_subject),
            ("Discreet-Preview", step.discreet_preview),
        ):
            word = discreet.named_in(text)
            if word:
                own = files.get(step.path.name) if files is not None else None
                lines = (own if own is not None else read_text(step.path)).splitlines()
                line = next(
                    (n for n, s in enumerate(lines, 1) if s.lower().startswith(header.lower())), 1
                )
                raise CourseError(step.path, line, f"{header} holds {word!r}: it must not")


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _load_steps(
    folder: Path, checker: _Checker, raw_steps: object, files: Mapping[str, str] | None
) -> tuple[Step, ...]:
    if not isinstance(raw_steps, list) or not raw_steps:
        raise checker.fail("steps", "a course needs at least one [[steps]] entry")
    steps = []
    seen: set[str] = set()
    for index, entry in enumerate(raw_steps):
        where = f"step {index + 1}"
        if not isinstance(entry, dict):
            raise checker.fail("steps", f"{where} must be a [[steps]] table")
        for key in entry:
            if key not in STEP_KEYS:
                raise checker.fail(key, f"{where}: unknown key {key!r} (known: file, delay_days)")
        name = entry.get("file")
        if not isinstance(name, str) or not name or "/" in name or "\\" in name:
            raise checker.fail("[[steps]]", f"{where}: 'file' must name a file in this folder")
        if name in seen:
            raise checker.fail(name, f"{where}: {name!r} is used twice")
        seen.add(name)
        delay = entry.get("delay_days")
        if not _whole(delay) or not 0 <= delay <= 365:
            raise checker.fail(
                name, f"{where}: delay_days must be a whole number of days from 0 to 365"
            )
        step_path = folder / name
        if not (step_path.is_file() if files is None else name in files):
            raise checker.fail(name, f"{where}: file {name!r} not found beside course.toml")
        text = None if files is None else files[name]
        steps.append(load_step(step_path, index=index, delay_days=delay, text=text))
    return tuple(steps)


def is_time_zone(name: str) -> bool:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


#: The published versions this process knows (``service.courses.catalog`` installs them from
#: the database): by slug the newest, and by (slug, version) the newest text of that
#: version's line (a change of words reaches every reader's unsent emails; a change of
#: shape starts a new line, and readers already on the course keep theirs).
_published: dict[str, Course] = {}
_by_version: dict[tuple[str, int], Course] = {}


def install(newest: Mapping[str, Course], by_version: Mapping[tuple[str, int], Course]) -> None:
    """Make these the published courses of this process (replacing what was there). The
    tables are swapped whole, never emptied in place: a thread reading meanwhile sees the old
    ones or the new ones, never none."""
    global _published, _by_version
    _published, _by_version = dict(newest), dict(by_version)


@cache
def packaged_course(slug: str = "rebuilding-trust") -> Course:
    """A course folder shipped in the package (the first version of a fresh install)."""
    return load_course(COURSES_DIR / slug)


def shipped_course(slug: str = "rebuilding-trust") -> Course:
    """The course as published now: its newest version, or, before any is installed, the
    package's folder. Raises ``CourseError`` for a slug that is neither."""
    found = _published.get(slug)
    if found is not None:
        return found
    if not _SLUG.match(slug) or not (COURSES_DIR / slug / "course.toml").is_file():
        raise CourseError(COURSES_DIR / "course.toml", None, f"no course is called {slug!r}")
    return packaged_course(slug)


def published_slugs() -> tuple[str, ...]:
    """The courses published here, the first one made first (it is the one at ``/``)."""
    return tuple(_published) or (FIRST_COURSE,)


def is_published(slug: str) -> bool:
    return slug in published_slugs()


def course_version(slug: str, version: int) -> Course:
    """The text a reader who began ``version`` receives: the newest of that version's line
    (the newest published, when the version is not known here)."""
    return _by_version.get((slug, version)) or shipped_course(slug)


def default_course() -> Course:
    """The first course (at ``/``): the one every page and email falls back to."""
    return shipped_course(published_slugs()[0])


def course_or_first(slug: str | None) -> Course:
    """The published course ``slug`` names, else the first course (no slug, or a course
    not published here)."""
    return shipped_course(slug) if slug and is_published(slug) else default_course()


def read_files(folder: Path) -> dict[str, str]:
    """A course folder's files, exactly as written (line endings kept): course.toml and the
    email files it lists. Raises ``CourseError`` when it cannot be read as a course."""
    course = load_course(folder)  # checks everything first, naming the file and line
    names = ["course.toml", *(step.path.name for step in course.steps)]
    if course.confirmation is not None:
        names.append(CONFIRMATION_FILE)
    files = {}
    for name in names:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            files[name] = handle.read()
    return files


def write_files(folder: Path, files: Mapping[str, str]) -> None:
    """Write a course's files into ``folder`` exactly as held (the inverse of ``read_files``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
