"""What a reader who asked for discretion sees in their inbox instead of the course.

A home where trust was broken is often one where someone else may glance at the inbox. For
such a reader nothing an inbox shows — the sender's name, the subject, the preview line, the
email's top and bottom lines — names the course or its subject: it looks like an ordinary
newsletter ("Weekly notes", "Notes, 3 of 8"). The course file sets the wording in
``[discreet]``; ``words`` lists what must never appear there, and every discreet line is
checked against them (and the course's own title) when the course is loaded.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

#: The wording a course gets when its file says nothing of its own.
DEFAULT_SENDER = "Weekly notes"
DEFAULT_SUBJECT = "Notes, {number} of {count}"
DEFAULT_PREVIEW = "A few quiet minutes, whenever suits you."
#: What ``subject`` may name: the email's place in the series, and their total.
SUBJECT_PLACEHOLDERS = frozenset({"number", "count"})


#: Words too common to tell anyone what a course is about, so a title holding them does not
#: forbid them in discreet lines ("Finding your way" must not rule out "Your link").
COMMON_WORDS = frozenset(
    """
    about after again also back been before being came come days does done down each even
    every find finding first from gets give good have here home into just keep know last
    life like little long made make many more most much must next notes once only other
    over part some still such take than that their them then there these they thing things
    this those through time together very want week weekly weeks well were what when where
    which while will with without work year years your yours
    """.split()
)


@dataclass(frozen=True)
class Discretion:
    sender: str = DEFAULT_SENDER
    #: each email's subject, numbered among all of the reader's emails (the welcome is 1)
    subject: str = DEFAULT_SUBJECT
    preview: str = DEFAULT_PREVIEW
    #: words (or beginnings of words: "forgiv") never to appear in what the inbox shows
    words: tuple[str, ...] = ()

    def subject_for(self, number: int, count: int) -> str:
        return self.subject.format(number=number, count=count)

    def named_in(self, text: str) -> str | None:
        """The first forbidden word that ``text`` holds, or None."""
        found = self.words_in(text)
        return found[0] if found else None

    def words_in(self, text: str) -> list[str]:
        """Every forbidden word that ``text`` holds (a word's beginning counts)."""
        lowered = text.lower()
        return [w for w in self.words if re.search(rf"(?<![a-z]){re.escape(w)}", lowered)]

    def with_title(self, title: str) -> Discretion:
        """The same, with every telling word of the course's own title forbidden too (a
        common word like "your" or "first" tells nobody what the emails are)."""
        own = tuple(
            w
            for w in re.findall(r"[a-z]{4,}", title.lower())
            if w not in self.words and w not in COMMON_WORDS
        )
        return Discretion(self.sender, self.subject, self.preview, self.words + own)


def reply_subject(theirs: str, fallback: str, plan: Discretion | None = None) -> str:
    """The subject of an answer to a reader: "Re:" and their own subject; for a discreet
    reader (``plan``) only when it names nothing of the course, else "Re:" and ``fallback``
    (the neutral subject of the email they answered)."""
    theirs = " ".join(theirs.split())
    if theirs and (plan is None or plan.named_in(theirs) is None):
        return theirs if theirs.lower().startswith("re:") else f"Re: {theirs}"
    return f"Re: {fallback}"


def subject_problem(template: str) -> str | None:
    """Why a ``subject`` pattern cannot be used, or None."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return "subject has an unclosed { or }: write {number} and {count}"
    unknown = names - SUBJECT_PLACEHOLDERS
    if unknown:
        return f"subject may name {{number}} and {{count}} only, not {{{sorted(unknown)[0]}}}"
    return None
