"""Addresses never reach a log in full: ``sam@example.com`` is written ``s***@example.com``.

Installed once per process (the web app, every ``coursemail`` command) as the log record
factory, so it covers every logger: ours, gunicorn's access log (a search for an address is
in its query string), the SMTP libraries'. Message bodies and reply text are never logged in
the first place; this is the net under what a log line might quote (a relay's error saying
which mailbox it refused, say).
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: An address, plain or URL-encoded (``%40``) as in a query string.
_ADDRESS = re.compile(r"(?<![\w.%+-])([\w%+-])[\w.%+-]*(@|%40)([\w-]+(?:\.[\w-]+)+)", re.UNICODE)


def mask(text: str) -> str:
    """``text`` with every address reduced to its first character and its domain."""
    return _ADDRESS.sub(lambda m: f"{m.group(1)}***{m.group(2)}{m.group(3)}", text)


_made = logging.getLogRecordFactory()


def _masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _made(*args, **kwargs)
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
