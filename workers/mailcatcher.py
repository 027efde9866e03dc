"""The development mail catcher: an SMTP server that keeps every message as a file.

``make run`` points ``SMTP_URL`` at it when no real relay is configured; the web app shows
the messages at ``/dev/mail`` (development only). Nothing is delivered anywhere.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("coursemail.catcher")


class CatcherHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        name = f"{time.time_ns()}"
        temporary = self.folder / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # mail: private
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, self.folder / f"{name}.eml")  # whole files only, never halves
        subject = BytesHeaderParser(policy=default).parsebytes(data).get("Subject", "")
        log.info("caught mail to %s: %s", ", ".join(envelope.rcpt_tos), subject)
        return "250 Caught (not delivered: development mail catcher)"


def serve(host: str, port: int, folder: Path, stop: threading.Event) -> None:
    controller = Controller(CatcherHandler(folder), hostname=host, port=port)
    controller.start()
    log.info("catching mail on %s:%d into %s", host, port, folder)
    try:
        stop.wait()
    finally:
        controller.stop()


def run_until_signalled(host: str, port: int, folder: Path) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serve(host, port, folder, stop)
