"""``make run`` / ``coursemail run``: the whole service on one machine, on embedded defaults.

Migrates the database, starts a private redis-server (unless ``REDIS_URL`` is set) and a
mail catcher (unless ``SMTP_URL`` is set), then runs web, worker, tick and inbound under
honcho's process manager: one log stream with each process's name, and when one stops, or
on Ctrl-C, everything stops, the private Redis included.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from honcho.manager import Manager
from honcho.printer import Printer

from service.settings import ConfigError, Settings
from workers.redis_server import EmbeddedRedis

#: The catcher's usual port; a free one is chosen when it is taken.
CATCHER_PORT = 1025


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _python(*args: str) -> str:
    return shlex.join([sys.executable, *args])


@dataclass(frozen=True)
class Plan:
    """What ``coursemail run`` will start, decided from the environment alone."""

    processes: dict[str, str]
    #: variables the children get on top of the environment
    env: dict[str, str]
    #: start a private redis-server: only when REDIS_URL is unset
    private_redis: bool
    #: the mail catcher's port: only when SMTP_URL is unset
    catcher_port: int | None


def make_plan(settings: Settings, environ: Mapping[str, str]) -> Plan:
    processes = {
        "web": _python(
            "-m",
            "gunicorn",
            "--no-control-socket",
            "--bind",
            f"127.0.0.1:{settings.PORT}",
            "--workers",
            "2",
            "--graceful-timeout",
            "5",
            "--access-logfile",
            "-",
            "service.web:create_app()",
        ),
        "worker": _python("-m", "workers.cli", "worker"),
        "tick": _python("-m", "workers.cli", "tick"),
        "inbound": _python("-m", "workers.cli", "inbound"),
    }
    env: dict[str, str] = {}
    catcher_port = None
    if not environ.get("SMTP_URL", "").strip():
        catcher_port = CATCHER_PORT if _port_free(CATCHER_PORT) else _free_port()
        env["SMTP_URL"] = f"smtp://127.0.0.1:{catcher_port}"
        processes["mail"] = _python("-m", "workers.cli", "catcher", "--port", str(catcher_port))
    return Plan(
        processes=processes,
        env=env,
        private_redis=not environ.get("REDIS_URL", "").strip(),
        catcher_port=catcher_port,
    )


def main() -> int:
    env = dict(os.environ)
    try:
        settings = Settings.from_env(env)
    except ConfigError as error:
        print(f"coursemail: configuration error: {error}", file=sys.stderr)
        return 2
    if not _port_free(settings.PORT):
        print(
            f"coursemail: port {settings.PORT} is already in use; set PORT to another one",
            file=sys.stderr,
        )
        return 2
    env.setdefault("COURSEMAIL_INSTANCE", str(settings.instance_path))
    env["PYTHONUNBUFFERED"] = "1"  # logs appear as they happen

    from service.store.migrate import upgrade

    print("Preparing the database...", flush=True)
    upgrade(settings.DATABASE_URL)

    plan = make_plan(settings, os.environ)
    env.update(plan.env)
    redis: EmbeddedRedis | None = None
    if plan.private_redis:
        redis = EmbeddedRedis(settings.instance_path).start()
        env["REDIS_URL"] = redis.url
    try:
        print(_welcome(settings, plan, env["REDIS_URL"], private_redis=redis), flush=True)
        manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
        for name, command in plan.processes.items():
            manager.add_process(name, command, env=env)
        manager.loop()
        return int(manager.returncode or 0)
    finally:
        if redis is not None:
            redis.stop()


def _welcome(settings: Settings, plan: Plan, redis_url: str, *, private_redis: object) -> str:
    """What the terminal says first: where everything is."""
    mail = (
        f"  Mail (caught):  {settings.PUBLIC_URL}/dev/mail (SMTP on 127.0.0.1:{plan.catcher_port}"
        + ("" if plan.catcher_port == CATCHER_PORT else f", as {CATCHER_PORT} was taken")
        + f"; for coursemail in another terminal: SMTP_URL=smtp://127.0.0.1:{plan.catcher_port})"
        if plan.catcher_port
        else "  Mail:           sent for real through SMTP_URL"
    )
    scale = settings.COURSEMAIL_TIME_SCALE
    lines = [
        "",
        "coursemail is starting. Press Ctrl-C to stop everything.",
        f"  Course page:    {settings.PUBLIC_URL}/",
        mail,
        f"  Replies (SMTP): {settings.INBOUND_SMTP_HOST}:{settings.INBOUND_SMTP_PORT}"
        f" for @{settings.REPLY_DOMAIN}",
        f"  Redis:          {redis_url}"
        + (" (private, stops with this command)" if private_redis else ""),
        f"  Time scale:     {scale:g}x" + ("" if scale == 1 else " (demo: days pass fast)"),
        "",
    ]
    return "\n".join(lines)
