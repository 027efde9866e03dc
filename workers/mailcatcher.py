"""The development mail catcher: an SMTP server that keeps every message as a file.

``make run`` points ``SMTP_URL`` at it when no real relay is configured; the web app shows
the messages at ``/dev/mail`` (development only). Nothing is delivered anywhere, except mail
for ``REPLY_DOMAIN``, which it hands to the reply listener as that domain's MX would (so
``coursemail doctor --send`` and the desk's Send the tests come back, as in production).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import smtplib
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("coursemail.catcher")


class CatcherHandler:
    def __init__(self, folder: Path, replies: tuple[str, str, int] | None = None) -> None:
        """``replies``: (REPLY_DOMAIN, the listener's host, its port)."""
        self.folder = folder
        self.replies = replies
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        if self.replies is not None and all(
            r.rpartition("@")[2].lower() == self.replies[0] for r in envelope.rcpt_tos
        ):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self._to_listener, envelope, data)
        name = f"{time.time_ns()}"
        temporary = self.folder / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # mail: private
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, self.folder / f"{name}.eml")  # whole files only, never halves
        subject = BytesHeaderParser(policy=default).parsebytes(data).get("Subject", "")
        log.info("caught mail to %s: %s", ", ".join(envelope.rcpt_tos), subject)
        return "250 Caught (not delivered: development mail catcher)"

    def _to_listener(self, envelope: Any, data: bytes) -> str:
        assert self.replies is not None
        _, host, port = self.replies
        try:
            with smtplib.SMTP(host, port, timeout=30) as listener:
                listener.sendmail(envelope.mail_from or "", envelope.rcpt_tos, data)
        except smtplib.SMTPResponseException as refused:
            said = refused.smtp_error
            said = said.decode(errors="replace") if isinstance(said, bytes) else said
            return f"{refused.smtp_code} {said}"
        except smtplib.SMTPRecipientsRefused as refused:
            code, said = next(iter(refused.recipients.values()))
            return f"{code} {said.decode(errors='replace')}"
        except (OSError, smtplib.SMTPException) as error:
            log.warning("the reply listener at %s:%d did not take mail (%s)", host, port, error)
            return "451 4.4.1 The reply listener is not answering; try again later"
        log.info("passed mail for %s to the reply listener", ", ".join(envelope.rcpt_tos))
        return "250 Passed to the reply listener"


def serve(
    host: str,
    port: int,
    folder: Path,
    stop: threading.Event,
    replies: tuple[str, str, int] | None = None,
) -> None:
    controller = Controller(CatcherHandler(folder, replies), hostname=host, port=port)
    controller.start()
    log.info("catching mail on %s:%d into %s", host, port, folder)
    try:
        stop.wait()
    finally:
        controller.stop()


def run_until_signalled(
    host: str, port: int, folder: Path, replies: tuple[str, str, int] | None = None
) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serve(host, port, folder, stop, replies)
