"""Turn a step (or the confirmation email) and one recipient into subject, HTML and text.

Work is done as early and as rarely as possible: the MJML layout is compiled once per
process, each step's Markdown is converted and compiled into a Jinja template once per
renderer, and per recipient only a Jinja render runs (autoescape on for HTML).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import jinja2
import markdown
import mjml
from markupsafe import Markup, escape

from emails.course import Course, Step, already_step, private_step

LAYOUT_MJML = Path(__file__).with_name("layout.mjml")
LAYOUT_TEXT = Path(__file__).with_name("layout.txt")


@dataclass(frozen=True)
class Contact:
    """The therapist's details, from settings: never written into a template."""

    therapist_name: str
    therapist_email: str
    therapist_phone: str
    postal_address: str
    forgiveness_post_url: str = ""
    blog_url: str = ""
    #: when replies are read (REPLIES_READ_NOTE), in the author's voice, in the welcome
    replies_note: str = ""
    #: the phone's country calling code ("+1"), for the tap-to-call link
    country_code: str = ""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@cache
def compiled_layout() -> str:
    """The shared layout as HTML with Jinja placeholders: MJML runs once per process."""
    return str(mjml.mjml2html(LAYOUT_MJML.read_text(encoding="utf-8")))


#: A short line ending in a comma with text right below it: a sign-off ("Warmly,") whose
#: name belongs on the next line, in HTML and text alike.
_SIGN_OFF = re.compile(r"^(\S.{0,28},)[ \t]*$(?=\n[ \t]*\S)", re.MULTILINE)


def _hard_breaks(source: str) -> str:
    """Mark sign-offs with Markdown's hard line break (two trailing spaces)."""
    return _SIGN_OFF.sub(r"\1  ", source)


class _WordsOnly(markdown.Extension):
    """Markdown for words written in a browser: raw HTML is shown as the characters typed
    (never a tag: no script, no styles, no tracking pixel) and an image is not fetched
    (``![a](url)`` stays a plain link). Jinja's autoescape covers only the names filled in;
    this covers what she typed."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - the library's name
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        for pattern in ("image_link", "image_reference"):
            md.inlinePatterns.deregister(pattern)


def markdown_to_html(source: str) -> str:
    return markdown.markdown(_hard_breaks(source), output_format="html", extensions=[_WordsOnly()])


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_STRONG = re.compile(r"(\*\*|__)(.+?)\1")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")
_KEEP_LINE = re.compile(r"^\s*(#|>|\||```)|^ {4}")


def markdown_to_text(source: str) -> str:
    """Markdown is already readable as text; links and emphasis marks are undone, and each
    paragraph (or list item) becomes one line, since a plain-text email is not reflowed by
    most mail apps: the author's line breaks would show as ragged lines on a phone."""
    text = _LINK.sub(_text_link, _unwrap(_hard_breaks(source)))
    text = _STRONG.sub(r"\2", text)
    return _EMPHASIS.sub(r"\1", text)


def _text_link(match: re.Match[str]) -> str:
    """A link in the plain-text part: its words, and the address unless the words already
    say it (a phone number, a site's name); a mail app makes both tappable itself."""
    label, url = match.groups()
    if url.startswith(("tel:", "sms:", "mailto:")) or _shown(url).removeprefix("www.") == label:
        return label
    return f"{label} ({url})"


def _unwrap(source: str) -> str:
    lines: list[str] = []
    joinable = False  # whether the previous line is prose a following line continues
    for line in source.splitlines():
        if not line.strip() or _KEEP_LINE.match(line):
            lines.append(line)
            joinable = False
        elif joinable and not _LIST_ITEM.match(line):
            lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
            joinable = not line.endswith("  ")
        else:
            lines.append(line.rstrip() if line.endswith("  ") else line)
            joinable = not line.endswith("  ")  # Markdown's hard line break is kept
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


class Renderer:
    """Renders one course's emails; build one per process and reuse it."""

    def __init__(self, course: Course, contact: Contact) -> None:
        self.course = course
        self.contact = contact
        loader = jinja2.DictLoader(
            {
                "layout.html": compiled_layout(),
                "layout.txt": LAYOUT_TEXT.read_text(encoding="utf-8"),
            }
        )
        common = {"undefined": jinja2.StrictUndefined, "loader": loader}
        self._html = jinja2.Environment(autoescape=True, **common)  # type: ignore[arg-type]
        self._text = jinja2.Environment(
            autoescape=False,
            keep_trailing_newline=True,
            **common,  # type: ignore[arg-type]
        )
        self._cache: dict[str, tuple[jinja2.Template, jinja2.Template, jinja2.Template]] = {}
        # the contact never changes for a renderer: build its links once, not per email
        self._html_links = self._links_html()
        self._text_links = self._links_text()

    @property
    def _post_title(self) -> str:
        return f"“{self.course.post_title}”" if self.course.post_title else ""

    @property
    def author(self) -> str:
        return self.course.author or self.contact.therapist_name

    @property
    def sender_name(self) -> str:
        return self.course.sender_name or self.contact.therapist_name

    @property
    def discreet_sender(self) -> str:
        return self.course.discreet.sender

    def render_step(
        self,
        index: int,
        *,
        first_name: str | None,
        unsubscribe_url: str,
        discreet: bool = False,
        preferences_url: str = "",
    ) -> Rendered:
        step = self.course.step(index)
        reason = (
            "You are receiving these notes because you asked for them."
            if discreet
            else f"You are receiving this because you signed up for {self.course.title}, "
            f"an email course by {self.author}."
        )
        lessons = self.course.lesson_steps
        number = next((n for n, s in enumerate(lessons, start=1) if s.index == index), None)
        return self._render(
            f"step-{index}",
            step,
            discreet=discreet,
            first_name=first_name,
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
            footer_reason=reason,
            archive_url=f"{preferences_url}/archive" if preferences_url else "",
            step_number=index,
            step_count=len(lessons),
            step_label=f"Step {number} of {len(lessons)}" if number else "",
        )

    def render_confirmation(
        self, *, first_name: str | None, confirm_url: str, discreet: bool = False
    ) -> Rendered:
        return self._render(
            "confirm",
            self.course.confirmation_email,
            discreet=discreet,
            first_name=first_name,
            unsubscribe_url="",
            footer_reason=(
                "You are receiving this because this address was entered on a sign-up form."
                if discreet
                else "You are receiving this because this address was entered on the sign-up "
                f"form for {self.course.title}."
            ),
            button_url=confirm_url,
            button_label="Yes, start the course",
        )

    def render_already(
        self,
        *,
        first_name: str | None,
        preferences_url: str,
        unsubscribe_url: str,
        discreet: bool = False,
    ) -> Rendered:
        """The note to a reader already on the course who signed up again."""
        return self._render(
            "already",
            already_step(),
            discreet=discreet,
            first_name=first_name,
            unsubscribe_url=unsubscribe_url,
            footer_reason=(
                "You are receiving this because this address was entered on a sign-up form."
            ),
            button_url=preferences_url,
            button_label="Open my preferences",
        )

    def render_private(
        self, *, first_name: str | None, private_url: str, discreet: bool = False
    ) -> Rendered:
        """The fresh private link a reader asked for (to what they wrote, their data,
        erasing)."""
        return self._render(
            "private",
            private_step(),
            discreet=discreet,
            first_name=first_name,
            unsubscribe_url="",
            footer_reason="You are receiving this because someone asked for it on your "
            "preferences page.",
            button_url=private_url,
            button_label="Open my private page",
        )

    def subject(self, index: int | None, *, first_name: str | None) -> str:
        """The subject line of a step (or, for None, of the confirmation email) alone."""
        key, step = (
            ("confirm", self.course.confirmation_email)
            if index is None
            else (
                f"step-{index}",
                self.course.step(index),
            )
        )
        values = {
            "course_title": self.course.title,
            "author": self.author,
            "therapist_name": self.contact.therapist_name,
            "first_name": first_name,
            "blog_url": self.contact.blog_url,
            "replies_note": self.contact.replies_note,
            "step_number": index,
            "step_count": len(self.course.lesson_steps),
            **self._text_links,
        }
        return " ".join(self._templates(key, step)[0].render(values).split())

    def _render(
        self, key: str, step: Step, *, discreet: bool = False, **values: object
    ) -> Rendered:
        masthead = self.course.title
        if discreet:  # nothing in the inbox says what this is: subject, preview, masthead
            key += ":discreet"
            plan = self.course.discreet
            number = step.index + 1 if key.startswith("step-") else 0
            step = replace(
                step,
                subject=step.discreet_subject or plan.subject_for(number, len(self.course.steps)),
                preview=step.discreet_preview or plan.preview,
            )
            masthead = plan.sender
        subject_t, html_t, text_t = self._templates(key, step)
        base = {
            "masthead": masthead,
            "discreet": discreet,
            "course_title": self.course.title,
            "author": self.author,
            "therapist_name": self.contact.therapist_name,
            "blog_url": self.contact.blog_url,
            "postal_address": self.contact.postal_address,
            "replies_note": self.contact.replies_note,
            "language": self.course.language,
            "step_label": "",
            "preferences_url": "",
            "archive_url": "",
            "preview": step.preview,
            "button_url": "",
            "button_label": "",
            **values,
        }
        subject = " ".join(subject_t.render(base).split())
        html = html_t.render(base, subject=subject, **self._html_links)
        text = text_t.render(base, subject=subject, **self._text_links)
        return Rendered(subject=subject, html=html, text=_tidy_text(text))

    def _templates(
        self, key: str, step: Step
    ) -> tuple[jinja2.Template, jinja2.Template, jinja2.Template]:
        if key not in self._cache:
            html_source = (
                "{% extends 'layout.html' %}{% block content %}"
                + markdown_to_html(step.body)
                + "{% endblock %}"
            )
            text_source = (
                "{% extends 'layout.txt' %}{% block content %}"
                + markdown_to_text(step.body)
                + "{% endblock %}"
            )
            self._cache[key] = (
                self._text.from_string(step.subject),
                self._html.from_string(html_source),
                self._text.from_string(text_source),
            )
        return self._cache[key]

    def _links_html(self) -> dict[str, object]:
        c = self.contact
        post: object = self._post_title
        where = c.forgiveness_post_url or c.blog_url  # the post itself, else the blog it is on
        if where:
            post = Markup('<a href="{}">{}</a>').format(where, post)
        elif post:
            post = Markup("{} (reply to this email and I’ll send it to you)").format(post)
        phone_digits = tel_number(c.therapist_phone, c.country_code)
        return {
            "blog_link": Markup('<a href="{0}">{1}</a>').format(c.blog_url, _shown(c.blog_url)),
            "forgiveness_post": post,
            "therapist_email": Markup('<a href="mailto:{0}">{0}</a>').format(c.therapist_email),
            "therapist_phone": Markup('<a href="tel:{}">{}</a>').format(
                phone_digits, c.therapist_phone
            )
            if phone_digits
            else escape(c.therapist_phone),
        }

    def _links_text(self) -> dict[str, object]:
        c = self.contact
        post = self._post_title
        where = c.forgiveness_post_url or c.blog_url
        if where:
            post = f"{post} ({where})"
        elif post:
            post = f"{post} (reply to this email and I’ll send it to you)"
        return {
            "blog_link": c.blog_url,
            "forgiveness_post": post,
            "therapist_email": c.therapist_email,
            "therapist_phone": c.therapist_phone,
        }


def tel_number(phone: str, country_code: str) -> str:
    """The ``tel:`` number for a phone as people write it: its digits, with the country
    calling code in front unless the number already starts with "+"."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return ""
    if phone.strip().startswith("+"):
        return "+" + digits
    return f"{country_code}{digits}" if country_code else digits


def _shown(url: str) -> str:
    """A web address as a person reads it: without the scheme or a trailing slash."""
    return re.sub(r"^https?://", "", url).rstrip("/")


def _tidy_text(text: str) -> str:
    """Collapse the blank lines template tags leave behind; end with one newline."""
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
