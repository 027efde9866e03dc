"""What an inbox shows of a message before it is opened: the sender's name, the subject, and
the preview a mail app takes from the start of the HTML (the hidden preview line included,
zero-width characters dropped, runs of ordinary spaces folded, no-break spaces kept: that is
what the spacer after the preview line counts on). And the top and bottom lines of the email
(the masthead above the card and the footer below it)."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import parseaddr
from html.parser import HTMLParser

from emails.course import Course

#: How much of the start of an email a mail app shows as its preview.
PREVIEW_LENGTH = 140
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u034f\ufeff\u2060"))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "title", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "title", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def preview(message: EmailMessage) -> str:
    """The first ``PREVIEW_LENGTH`` characters an inbox shows of the message."""
    part = message.get_body(("html", "plain"))
    assert part is not None
    content = part.get_content()
    if part.get_content_type() == "text/html":
        reader = _Text()
        reader.feed(content)
        content = "".join(reader.parts)
    text = html.unescape(content).translate(_INVISIBLE)
    text = re.sub(r"[ \t\r\n]+", " ", text).lstrip()
    return text[:PREVIEW_LENGTH]


def shown(message: EmailMessage) -> dict[str, str]:
    """Sender's name, subject and preview: what someone glancing at an inbox sees."""
    return {
        "from": parseaddr(str(message["From"]))[0] or parseaddr(str(message["From"]))[1],
        "subject": str(message["Subject"]),
        "preview": preview(message),
    }


def top_and_bottom(message: EmailMessage) -> str:
    """The masthead above the email's card and the footer below it, as text."""
    part = message.get_body(("html",))
    assert part is not None
    page = part.get_content()
    masthead = re.search(r"letter-spacing:1px[^>]*>(.*?)</div>", page, re.S)
    footer = re.search(r'class="footer"[^>]*>.*?>(.*?)</div>', page, re.S)
    found = [m.group(1) for m in (masthead, footer) if m]
    assert len(found) == 2, "masthead or footer not found"
    reader = _Text()
    reader.feed(" ".join(found))
    return html.unescape(" ".join("".join(reader.parts).split()))


def course_words(course: Course, text: str) -> list[str]:
    """The words of the course's title or subject (``[discreet] words``) that ``text`` holds."""
    return course.discreet.words_in(text)
