"""Serve a Flask app on a free loopback port in a thread, for the browser tests."""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import make_server

from tests.support.smtp import free_port


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (if it started) and close the listening socket."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(10)
        self.server.server_close()
