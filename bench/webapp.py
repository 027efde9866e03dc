"""The service's own app, plus one constant-response route: the baseline for the sign-up
benchmark, served by the same app, the same gunicorn settings and the same middleware."""

from __future__ import annotations

from flask import Flask

from service.web import create_app as create_service_app


def create_app() -> Flask:
    app = create_service_app()

    @app.get("/bench/constant")
    def constant() -> str:
        return "ok"

    return app
