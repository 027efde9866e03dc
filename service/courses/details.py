"""Her details on the desk: name, email, phone (and its country code), the forgiveness post's
address, the hour emails arrive and whether they arrive at weekends. They live in the
course's ``course.toml`` (``[contact]``, ``[post]``, ``send_hour``, ``weekends``), so a
change is a publish like any other (a change of words: every reader's unsent emails carry
it). A setting in the environment (THERAPIST_NAME and the others) still wins; the desk shows
those as "set by the server" and leaves them alone.

``course.toml`` is changed line by line, never rewritten: her comments and layout stay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from emails.course import Course
from service.settings import Settings

#: (form field, section, key, the setting that wins over it, kind)
FIELDS = (
    ("name", "contact", "name", "THERAPIST_NAME", "text"),
    ("email", "contact", "email", "THERAPIST_EMAIL", "text"),
    ("phone", "contact", "phone", "THERAPIST_PHONE", "text"),
    ("country_code", "contact", "country_code", "", "text"),
    ("post_url", "post", "url", "FORGIVENESS_POST_URL", "text"),
    ("send_hour", "", "send_hour", "", "hour"),
    ("weekends", "", "weekends", "", "flag"),
)


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    #: the setting that overrides this one, when it is set (the desk shows it read-only)
    set_by: str = ""


def toml_string(value: str) -> str:
    """A TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def set_value(text: str, section: str, key: str, literal: str) -> str:
    """``course.toml`` with ``key = literal`` in ``[section]`` ("" for the top), the line
    replaced where it is, or added to the section; every other line as it was."""
    lines = text.split("\n")
    region = _region(lines, section)
    if region is None:  # no such section yet: add it at the end
        tail = "" if text.endswith("\n") else "\n"
        return f"{text}{tail}\n[{section}]\n{key} = {literal}\n"
    first, end = region
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number in range(first, end):
        if pattern.match(lines[number]):
            lines[number] = f"{key} = {literal}"
            return "\n".join(lines)
    keys = [n for n in range(first, end) if _KEY_LINE.match(lines[n])]
    lines.insert(keys[-1] + 1 if keys else first, f"{key} = {literal}")
    return "\n".join(lines)


_TABLE = re.compile(r"^\s*\[")
_KEY_LINE = re.compile(r"^\s*[A-Za-z_]+\s*=")


def _region(lines: list[str], section: str) -> tuple[int, int] | None:
    """The lines of ``section`` (the top: those before the first table), or None."""
    if not section:
        return 0, next((n for n, line in enumerate(lines) if _TABLE.match(line)), len(lines))
    wanted = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]\s*(#.*)?$")
    for number, line in enumerate(lines):
        if wanted.match(line):
            end = next(
                (n for n in range(number + 1, len(lines)) if _TABLE.match(lines[n])), len(lines)
            )
            return number + 1, end
    return None


class Refused(Exception):
    """A value that cannot be kept, said for the form."""


def shown(course: Course, settings: Settings) -> list[Field]:
    """Each detail as the desk shows it: the course's value, or the setting that wins."""
    values = {
        "name": course.contact_name,
        "email": course.contact_email,
        "phone": course.contact_phone,
        "country_code": course.contact_country_code,
        "post_url": course.post_url,
        "send_hour": str(course.send_hour),
        "weekends": "true" if course.weekends else "false",
    }
    fields = []
    for name, _, _, setting, _ in FIELDS:
        winning = str(getattr(settings, setting)) if setting else ""
        if winning:
            fields.append(Field(name, winning, set_by=setting))
        else:
            fields.append(Field(name, values[name]))
    return fields


def changed(toml: str, given: Mapping[str, str], settings: Settings) -> tuple[str, list[str]]:
    """``course.toml`` with the form's values (those a setting overrides left as they are),
    and the names of what changed. Raises ``Refused`` for a value that cannot be kept."""
    said = []
    for name, section, key, setting, kind in FIELDS:
        if setting and getattr(settings, setting):
            continue
        raw = given.get(name, "")
        literal = _literal(name, kind, raw)
        updated = set_value(toml, section, key, literal)
        if updated != toml:
            said.append(name.replace("_", " "))
            toml = updated
    return toml, said


def _literal(name: str, kind: str, raw: str) -> str:
    if kind == "flag":
        return "true" if raw in ("on", "true", "1") else "false"
    value = " ".join(raw.split())
    if kind == "hour":
        if not (value.isascii() and value.isdecimal() and len(value) <= 2):
            raise Refused("the hour emails arrive is a whole hour, like 8")
        return str(int(value))
    if len(value) > 200:
        raise Refused(f"{name.replace('_', ' ')} is too long")
    if name == "email" and value:
        try:
            value = validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise Refused("the email should be a whole address, like you@example.com") from None
    return toml_string(value)
