"""The real browser for the page tests: Debian's Chromium driven by Playwright, headless.

Registered as a pytest plugin in conftest: ``browser`` (one per module), ``page`` (a fresh
context at 375 px that fails the test on any console, CSP or sub-resource error), ``live``
(the test's app on a free loopback port), and ``shoot`` for screenshots at 375 and 1280 px.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from tests.support.live import LiveServer
from workers.runtime import Runtime

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
AXE = Path(__file__).resolve().parents[2] / ".cache/axe/node_modules/axe-core/axe.min.js"


def serious_violations(page: Page) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on the page."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make axe` (make test does)")
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium; "
            "`make test` does this when run as root) or set CHROMIUM_PATH"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def live(app: Flask, rt: Runtime) -> Iterator[LiveServer]:
    server = LiveServer(app)
    rt.settings = replace(rt.settings, PUBLIC_URL=server.url)  # links in emails point here
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        timezone_id="Pacific/Auckland", viewport={"width": 375, "height": 812}
    )
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # a page answered with 400/404 on purpose is logged as "Failed to load resource";
        # failed sub-resources are caught below, so only CSP and script errors count here
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def on_response(response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            problems.append(f"{response.status} for {response.url}")

    opened.on("console", on_console)
    opened.on("response", on_response)
    opened.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    opened.on("pageerror", lambda e: problems.append(str(e)))
    yield opened
    context.close()
    assert problems == [], f"the browser reported errors: {problems}"


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        # a sandboxed frame (the email previews) runs in a process of its own, which a
        # full-page picture may leave blank: each is also photographed on its own
        for n, frame in enumerate(page.locator("iframe").all()):
            frame.screenshot(path=str(SHOTS / f"{name}-frame{n + 1}-{width}.png"))
    page.set_viewport_size({"width": 375, "height": 812})
