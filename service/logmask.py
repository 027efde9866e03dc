"""Addresses and link tokens never reach a log in full: ``sam@example.com`` is written
``s***@example.com``, and ``/preferences/<token>`` is written ``/preferences/…`` (likewise
``/u/``, ``/confirm/`` and ``/private/``): a token in a log is a key to someone's page.

Installed once per process (the web app, every ``coursemail`` command) as the log record
factory, so it covers every logger: ours, gunicorn's access log (a search for an address is
in its query string), the SMTP libraries'. Message bodies and reply text are never logged in
the first place; this is the net under what a log line might quote (a relay's error saying
which mailbox it refused, say).
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from typing import Any
from urllib.parse import unquote

#: What a local part may hold unquoted (RFC 5322's atext, and ``%`` of URL-encoding).
_ATEXT = r"[\w.!#$%&'*+/=?^`{|}~-]"
#: An address: a dot-atom or "quoted" local part, ``@`` plain or URL-encoded (``%40``) as in
#: a query string, and a domain with a dot or an address literal (``[192.0.2.1]``). Masking
#: errs wide: in ``?q=ren@x.test`` the ``q=`` goes too, as ``=`` may begin a local part.
_ADDRESS = re.compile(
    rf"(?<!{_ATEXT})"
    r'("(?:[^"\\\r\n]|\\.)*"|' + _ATEXT + r"+)"
    r"(@|%40)"
    r"([\w-]+(?:\.[\w-]+)+|\[[^\]\s]+\])",
    re.UNICODE,
)
#: The pages whose address holds a reader's key.
_TOKEN_PATH = re.compile(r"(/(?:preferences|u|confirm|private)/)[\w.=-]+")


def _plain(text: str) -> str:
    """``text`` as a reader of it would see it: URL-encoding undone (twice, for ``%2540``),
    HTML entities (``&#64;``) and look-alike forms (``＠``, NFKC) made plain."""
    for _ in range(2):
        text = unquote(text)
    return unicodedata.normalize("NFKC", html.unescape(text))


def _mask_plain(text: str) -> str:
    text = _TOKEN_PATH.sub(r"\1…", text)
    return _ADDRESS.sub(lambda m: f"{m.group(1)[0]}***{m.group(2)}{m.group(3)}", text)


def mask(text: str) -> str:
    """``text`` with every address reduced to its first character and its domain, and every
    link token left out. An address or a path hidden by encoding (``/pr%65ferences/…``,
    ``ren%2540x.test``, ``&#64;``, ``＠``) is masked in its decoded form, and then the line is
    written decoded."""
    masked = _mask_plain(text)
    if not any(c in masked for c in "%&") and masked.isascii():
        return masked
    plain = _plain(masked)
    again = _mask_plain(plain)
    return masked if again == plain else again


_made = logging.getLogRecordFactory()


_formatter = logging.Formatter()


def _masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _made(*args, **kwargs)
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # a traceback quotes values (an address in a query's parameters, a token in a path):
        # written now, masked, and used by every formatter in place of its own
        record.exc_text = mask(_formatter.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a malformed call: leave it for logging to report
        return record
    masked = mask(message)
    if masked != message:
        record.msg, record.args = masked, None
    return record


def install() -> None:
    """Mask addresses in every log record this process makes from now on (idempotent)."""
    if logging.getLogRecordFactory() is not _masked_record:
        logging.setLogRecordFactory(_masked_record)
