"""Settings: defaults, clear errors naming the variable, production refusals, the README."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from emails.course import default_course
from service.context import contact_for
from service.settings import POSTAL_ADDRESS_PLACEHOLDER, ConfigError, Settings
from service.web import create_app
from tests.support.env import PRODUCTION

ROOT = Path(__file__).resolve().parent.parent


def _settings(tmp_path: Path, **values: str) -> Settings:
    return Settings.from_env(environ={"COURSEMAIL_INSTANCE": str(tmp_path), **values})


def test_development_defaults_are_local_and_leave_the_contact_to_the_course(
    tmp_path: Path,
) -> None:
    s = _settings(tmp_path)
    assert s.DATABASE_URL == f"sqlite:///{tmp_path / 'coursemail.db'}"
    assert s.REDIS_URL == f"unix://{tmp_path / 'redis.sock'}"  # never a surprise :6379
    assert s.PUBLIC_URL == "http://127.0.0.1:5000"
    assert (s.THERAPIST_NAME, s.THERAPIST_EMAIL, s.THERAPIST_PHONE) == ("", "", "")
    assert s.POSTAL_ADDRESS == POSTAL_ADDRESS_PLACEHOLDER
    assert (s.COURSEMAIL_TIME_SCALE, s.TICK_INTERVAL) == (1.0, 5.0)
    assert _settings(tmp_path, PORT="8080").PUBLIC_URL == "http://127.0.0.1:8080"


def test_development_secret_is_generated_once_and_shared(tmp_path: Path) -> None:
    first, second = _settings(tmp_path), _settings(tmp_path)
    assert len(first.SECRET_KEY) == 64 and first.SECRET_KEY == second.SECRET_KEY
    assert (tmp_path / "secret_key").read_text() == first.SECRET_KEY


def test_postgres_urls_are_accepted_in_every_spelling(tmp_path: Path) -> None:
    for url in ("postgres://u:p@db/x", "postgresql://u:p@db/x"):
        assert _settings(tmp_path, DATABASE_URL=url).DATABASE_URL == "postgresql+psycopg://u:p@db/x"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("PORT", "eighty", "PORT must be a whole number"),
        ("COURSEMAIL_TIME_SCALE", "0", "COURSEMAIL_TIME_SCALE must be a positive number"),
        ("TICK_INTERVAL", "soon", "TICK_INTERVAL must be a number"),
        ("SMTP_URL", "mail.example.org", "SMTP_URL must look like"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must start with"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must be"),
        ("THERAPIST_EMAIL", "Lee <lee@example.org>", "THERAPIST_EMAIL must be a bare email"),
        ("THERAPIST_NAME", "Lee\r\nBcc: x@y", "THERAPIST_NAME must be a single line"),
        ("PUBLIC_URL", "example.org", "PUBLIC_URL must be an http(s) URL"),
        ("FORGIVENESS_POST_URL", "javascript:alert(1)", "FORGIVENESS_POST_URL must be"),
        ("COURSEMAIL_ENV", "staging", "COURSEMAIL_ENV must be one of"),
        ("REPLY_DOMAIN", "not a domain", "REPLY_DOMAIN must be a domain"),
        ("REPLY_MODE", "forward", "REPLY_MODE must be tracked or direct"),
        ("INBOUND_MAX_BYTES", "lots", "INBOUND_MAX_BYTES must be a whole number"),
        ("INBOUND_MAX_BYTES", "10", "INBOUND_MAX_BYTES must be between"),
        ("INBOUND_BASIC_AUTH", "justapassword", "INBOUND_BASIC_AUTH must look like"),
        ("CRISIS_PHRASES_FILE", "/no/such/file.txt", "CRISIS_PHRASES_FILE must name a readable"),
        ("CRISIS_REPLY_FILE", "/", "CRISIS_REPLY_FILE must name a"),
        ("REPLIES_READ_NOTE", "Soon.\nBcc: x@y", "REPLIES_READ_NOTE must be a single line"),
    ],
)
def test_a_bad_value_names_the_variable(tmp_path: Path, name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        _settings(tmp_path, **{name: value})


@pytest.mark.parametrize(
    ("missing", "replacement"),
    [
        ("SECRET_KEY", None),
        ("SECRET_KEY", "change-me"),
        ("SECRET_KEY", "change-me-change-me"),
        ("SECRET_KEY", "short-but-random-Xq7"),
        ("SECRET_KEY", "ab" * 20),  # long, but two characters
        ("SECRET_KEY", "our-secret-for-the-course-0123456789abcdef"),
        ("POSTAL_ADDRESS", None),
        ("ADMIN_PASSWORD", None),
        ("ADMIN_PASSWORD", "a"),
        ("ADMIN_PASSWORD", "eleven-char"),
        ("INBOUND_WEBHOOK_SECRET", "x"),
        ("MAILGUN_SIGNING_KEY", "key-12345"),
        ("INBOUND_BASIC_AUTH", "a:b"),
        ("PUBLIC_URL", "http://course.example.org"),
        ("THERAPIST_EMAIL", None),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(
    tmp_path: Path, missing: str, replacement: str | None
) -> None:
    env = dict(PRODUCTION)
    if replacement is None:
        del env[missing]
    else:
        env[missing] = replacement
    with pytest.raises(ConfigError, match=missing):
        _settings(tmp_path, **env)
    with pytest.raises(ConfigError, match=missing):
        create_app({"COURSEMAIL_INSTANCE": str(tmp_path), **env, missing: replacement or ""})


def test_production_tracked_replies_need_a_real_reply_domain(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "REPLY_DOMAIN"}
    with pytest.raises(ConfigError, match="REPLY_DOMAIN must be a real domain"):
        _settings(tmp_path, **env)
    # a deployment without inbound mail says so, and replies go straight to the therapist
    assert _settings(tmp_path, **env, REPLY_MODE="direct").REPLY_MODE == "direct"


def test_production_starts_when_configured(tmp_path: Path) -> None:
    s = _settings(tmp_path, **PRODUCTION)
    assert s.is_production and s.SECRET_KEY == PRODUCTION["SECRET_KEY"]
    assert not (tmp_path / "secret_key").exists()


def test_every_setting_is_documented_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = {m.group(1) for m in re.finditer(r"^\| `([A-Z0-9_]+)` \|", readme, re.MULTILINE)}
    names = {f.name for f in fields(Settings) if f.name.isupper()} | {"COURSEMAIL_INSTANCE"}
    assert names - table == set(), "add these to the README's settings table"
    example = (ROOT / ".env.example").read_text()
    assert {n for n in names if f"{n}=" not in example} == set(), "and to .env.example"


def test_the_seed_contact_comes_from_the_course_file_and_settings_override_it(
    tmp_path: Path,
) -> None:
    course = default_course()
    shipped = contact_for(_settings(tmp_path), course)
    assert (shipped.therapist_name, shipped.therapist_email, shipped.therapist_phone) == (
        "Lee Miller",
        "leemiller.therapist@gmail.com",
        "(310) 614-0323",
    )
    assert (
        shipped.forgiveness_post_url == "" and course.post_title == "Forgiveness: The Real F Word"
    )
    assert shipped.replies_note.startswith("I read every reply myself")
    mine = contact_for(
        _settings(
            tmp_path,
            THERAPIST_NAME="Robin Hale",
            THERAPIST_EMAIL="robin@example.test",
            THERAPIST_PHONE="555 0100",
            FORGIVENESS_POST_URL="https://blog.example.test/forgiveness",
        ),
        course,
    )
    assert (mine.therapist_name, mine.therapist_email, mine.therapist_phone) == (
        "Robin Hale",
        "robin@example.test",
        "555 0100",
    )
    assert mine.forgiveness_post_url == "https://blog.example.test/forgiveness"
    assert mine.replies_note.startswith("I read every reply myself")  # the author speaks


def test_a_renamed_setting_is_named_at_start_up() -> None:
    with pytest.raises(ConfigError, match="DISPATCH_INTERVAL is now called TICK_INTERVAL"):
        Settings.from_env({"DISPATCH_INTERVAL": "2"})
    assert Settings.from_env({"DISPATCH_INTERVAL": "2", "TICK_INTERVAL": "3"}).TICK_INTERVAL == 3


def test_production_accepts_long_webhook_secrets_and_a_loopback_http_address(
    tmp_path: Path,
) -> None:
    s = _settings(
        tmp_path,
        **{
            **PRODUCTION,
            "INBOUND_WEBHOOK_SECRET": "w" * 12 + "Q7z1x9k2m4p6",
            "INBOUND_BASIC_AUTH": "postmark:" + "k3J9x2LmQ8vB7nR4tY6wZ1aC",
            "PUBLIC_URL": "http://127.0.0.1:5000",
        },
    )
    assert s.PUBLIC_URL == "http://127.0.0.1:5000"


def test_a_server_started_without_coursemail_env_refuses_development_mode(
    tmp_path: Path,
) -> None:
    server = {
        "COURSEMAIL_INSTANCE": str(tmp_path / "nowhere"),
        "DATABASE_URL": "postgresql://app@db.internal/coursemail",
    }
    with pytest.raises(ConfigError, match="COURSEMAIL_ENV is not set, and this looks like a"):
        Settings.from_env(environ=server)
    # a developer's machine (an instance folder, or SQLite) starts in development as before
    (tmp_path / "nowhere").mkdir()
    assert Settings.from_env(environ=server).COURSEMAIL_ENV == "development"
    assert Settings.from_env(environ={**server, "COURSEMAIL_ENV": "production", **PRODUCTION})
