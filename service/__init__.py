"""The coursemail web app: ``create_app`` builds it; nothing runs at import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from service.settings import Settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment; ``test_config`` overrides settings by name.

    Raises ``ConfigError`` (naming the variable) when production is missing a secret,
    a postal address or admin credentials: the process refuses to start.
    """
    settings = Settings.from_env(overrides=test_config)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(SECRET_KEY=settings.SECRET_KEY, COURSEMAIL=settings)

    from service import health

    health.init_app(app)
    return app
