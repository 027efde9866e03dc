"""Noticing when a reply suggests the writer may be in danger, and what to send them.

The phrase list and the reply are plain files (``CRISIS_PHRASES_FILE``, ``CRISIS_REPLY_FILE``)
that a therapist can read and change without touching code. A problem in either is reported
as ``file:line: message``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from emails.safety.phrases import PhraseError, PhraseList, compile_phrase

#: The shipped phrase list and reply, beside this module; settings may point elsewhere.
SAFETY_DIR = Path(__file__).resolve().parent
SHIPPED_PHRASES = SAFETY_DIR / "crisis-phrases.txt"
SHIPPED_REPLY = SAFETY_DIR / "crisis-reply.txt"

#: What the reply file may use: ``$greeting`` ("Hi Anna," or "Hi,"), and the therapist's name.
REPLY_PLACEHOLDERS = frozenset({"greeting", "therapist_name"})


class SafetyFileError(Exception):
    """A safety file is wrong; the message names the file and line."""


#: What ``crisis_phrases`` returns: the list, compiled (see ``emails.safety.phrases``).
CrisisPhrases = PhraseList


@cache
def _load_phrases(path: Path, mtime_ns: int) -> CrisisPhrases:
    phrases: list[str] = []
    patterns: list[re.Pattern[str]] = []
    harmless: list[re.Pattern[str]] = []
    for number, line in enumerate(_read(path).splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        spared = stripped.lower().startswith("not:")
        phrase = stripped[4:].strip() if spared else stripped
        try:
            pattern = compile_phrase(phrase)
        except PhraseError as error:
            raise SafetyFileError(f"{path}:{number}: {stripped!r} {error}") from None
        if spared:
            harmless.append(pattern)
        else:
            phrases.append(phrase)
            patterns.append(pattern)
    if not phrases:
        raise SafetyFileError(f"{path}:1: the file lists no phrases")
    return PhraseList(tuple(phrases), tuple(patterns), tuple(harmless))


def crisis_phrases(path: Path) -> CrisisPhrases:
    """The phrase list in ``path``, read again whenever the file changes."""
    return _load_phrases(path, _mtime(path))


@dataclass(frozen=True)
class CrisisReply:
    subject: str
    template: string.Template

    def text(self, *, first_name: str | None, therapist_name: str) -> str:
        greeting = f"Hi {first_name}," if first_name else "Hi,"
        return self.template.substitute(greeting=greeting, therapist_name=therapist_name)


@cache
def _load_reply(path: Path, mtime_ns: int) -> CrisisReply:
    lines = _read(path).splitlines()
    if not lines or not lines[0].lower().startswith("subject:"):
        raise SafetyFileError(f"{path}:1: the first line must be 'Subject: ...'")
    subject = lines[0].split(":", 1)[1].strip()
    if not subject:
        raise SafetyFileError(f"{path}:1: the subject is empty")
    body = "\n".join(lines[1:]).strip() + "\n"
    template = string.Template(body)
    for number, line in enumerate(lines[1:], start=2):
        for match in string.Template.pattern.finditer(line):
            name = match.group("named") or match.group("braced")
            if match.group("invalid") is not None or (name and name not in REPLY_PLACEHOLDERS):
                raise SafetyFileError(
                    f"{path}:{number}: unknown placeholder {match.group(0)!r}; the file may use "
                    + ", ".join(f"${p}" for p in sorted(REPLY_PLACEHOLDERS))
                    + " (write $$ for a dollar sign)"
                )
    return CrisisReply(subject, template)


def crisis_reply(path: Path) -> CrisisReply:
    return _load_reply(path, _mtime(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SafetyFileError(f"{path}:1: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise SafetyFileError(f"{path}:1: cannot read the file ({error.strerror})") from None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError as error:
        raise SafetyFileError(f"{path}:1: cannot read the file ({error.strerror})") from None
