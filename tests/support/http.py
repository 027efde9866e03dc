"""A tiny cookie-keeping HTTP client for tests that talk to a real server process."""

from __future__ import annotations

import html
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from flask.testing import FlaskClient


class Browserless:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self._url(path)))

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self._url(path), data=body, method="POST"))

    def csrf(self, path: str) -> str:
        _, page = self.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match.group(1)

    def wait_until_up(self, path: str = "/healthz", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get(path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{self.base} did not come up in {timeout}s")

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def csrf(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of the form on ``path``, as the Flask test client sees it."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_up_and_confirm_link(client: Browserless, email: str) -> None:
    status, page = client.post(
        "/",
        {
            "email": email,
            "first_name": "Ada",
            "timezone": "Asia/Tokyo",
            "csrf_token": client.csrf("/"),
        },
    )
    assert status == 200 and "Check your inbox" in page, page


def confirm(client: Browserless, link: str) -> None:
    link = html.unescape(link)
    status, page = client.post(link, {"csrf_token": client.csrf(link)})
    assert status == 200 and "You’re in" in page, page
