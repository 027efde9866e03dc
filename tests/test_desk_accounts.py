"""A desk only she can open: named accounts (the first from ADMIN_PASSWORD, more from the
command line), names without case, sessions kept server-side so signing out ends them for
good, a sign-in code with recovery codes, throttles per address and per account, and the
audit log of it all."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

import pyotp
from argon2 import PasswordHasher
from click.testing import CliRunner
from flask.testing import FlaskClient

from service.desk import accounts, audit
from service.store.models import Reader
from tests.support.desk import PASSWORD, desk_app, sign_in, token
from tests.support.env import settings_env
from tests.support.harness import enrolled
from workers.cli import main
from workers.runtime import Runtime
from workers.tick import run_once


def _cookie(client: FlaskClient) -> str:
    found = client.get_cookie("session")
    assert found is not None
    return found.value


def _with_cookie(rt: Runtime, value: str) -> FlaskClient:
    """Another browser (a restarted web process, even) holding a copy of the cookie."""
    other = desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD).test_client()
    other.set_cookie("session", value)
    return other


def test_the_name_is_matched_without_case(desk: FlaskClient) -> None:
    assert sign_in(desk, name="Lee").status_code == 303
    assert desk.get("/admin").status_code == 200


def test_a_copied_cookie_opens_nothing_after_signing_out(desk: FlaskClient, rt: Runtime) -> None:
    sign_in(desk)
    copy = _with_cookie(rt, _cookie(desk))
    assert copy.get("/admin").status_code == 200  # the copy works while the session lives
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    assert copy.get("/admin").status_code == 302
    assert _with_cookie(rt, _cookie(copy) or "x").get("/admin").status_code == 302


def test_a_new_password_or_signing_out_everywhere_ends_the_other_browsers(
    desk: FlaskClient, rt: Runtime
) -> None:
    sign_in(desk)
    other = desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD).test_client()
    sign_in(other)
    new = "a brand new password for lee"
    short = desk.post(
        "/admin/account/password",
        data={
            "current": PASSWORD,
            "new": "short",
            "again": "short",
            "csrf_token": token(desk, "/admin/account"),
        },
    )
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    changed = desk.post(
        "/admin/account/password",
        data={
            "current": PASSWORD,
            "new": new,
            "again": new,
            "csrf_token": token(desk, "/admin/account"),
        },
    )
    assert changed.status_code == 303
    assert desk.get("/admin").status_code == 200  # this browser stays in
    assert other.get("/admin").status_code == 302  # the other is out
    assert sign_in(other).status_code == 401  # and the old password is gone
    assert sign_in(other, password=new).status_code == 303
    desk.post("/admin/account/sign-out-everywhere", data={"csrf_token": token(desk, "/admin")})
    assert desk.get("/admin").status_code == 302 and other.get("/admin").status_code == 302


def _turn_on_code(desk: FlaskClient, rt: Runtime) -> tuple[str, list[str]]:
    setup = desk.post("/admin/account/code", data={"csrf_token": token(desk, "/admin/account")})
    page = setup.get_data(as_text=True)
    assert 'src="data:image/svg+xml;charset=utf-8,%3Csvg%20xmlns' in page
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page)
    assert secret, page
    wrong = desk.post(
        "/admin/account/code/confirm",
        data={"code": "000000", "csrf_token": token(desk, "/admin/account")},
    )
    assert wrong.status_code == 400 and "not the one your app shows" in wrong.get_data(as_text=True)
    now_code = pyotp.TOTP(secret.group(1)).at(rt.clock.now())
    done = desk.post(
        "/admin/account/code/confirm",
        data={"code": now_code, "csrf_token": token(desk, "/admin/account")},
    )
    codes = re.findall(
        r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True)
    )
    assert len(codes) == accounts.RECOVERY_CODES
    return secret.group(1), codes


def _code_step(client: FlaskClient, code: str, form: str = "/admin/login/code"):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/login/code?next=/admin/readers",
        data={"code": code, "csrf_token": token(client, form)},
    )


def test_once_on_the_sign_in_code_is_asked_and_a_recovery_code_works_once(
    desk: FlaskClient, rt: Runtime
) -> None:
    sign_in(desk)
    secret, codes = _turn_on_code(desk, rt)
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    asked = sign_in(desk, next="/admin/readers")
    assert asked.status_code == 303 and asked.headers["Location"].startswith("/admin/login/code")
    assert desk.get("/admin").status_code == 302  # the password alone opens nothing
    assert _code_step(desk, "123456").status_code == 401
    rt.clock.advance(timedelta(seconds=30))
    right = _code_step(desk, pyotp.TOTP(secret).at(rt.clock.now()))
    assert right.status_code == 303 and right.headers["Location"] == "/admin/readers"
    assert desk.get("/admin").status_code == 200
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    sign_in(desk)
    assert _code_step(desk, codes[0].upper()).status_code == 303  # a recovery code, once
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    sign_in(desk)
    assert _code_step(desk, codes[0]).status_code == 401
    assert (
        "9 recovery codes left"
        in CliRunner(env=settings_env(rt.settings)).invoke(main, ["desk", "users"]).output
    )


def test_the_code_page_gives_up_after_five_wrong_codes(desk: FlaskClient, rt: Runtime) -> None:
    sign_in(desk)
    secret, _ = _turn_on_code(desk, rt)
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    sign_in(desk)
    for _ in range(5):
        assert _code_step(desk, "000000").status_code == 401
    # the sixth try, right or not, is sent back to the password
    assert desk.get("/admin/login/code").status_code == 302
    late = _code_step(desk, pyotp.TOTP(secret).at(rt.clock.now()), form="/admin/login")
    assert late.status_code == 303 and late.headers["Location"].startswith("/admin/login?")
    assert desk.get("/admin").status_code == 302


def test_a_code_opens_the_desk_once_and_its_secret_never_rides_in_the_cookie(
    desk: FlaskClient, rt: Runtime
) -> None:
    sign_in(desk)
    setup = desk.post("/admin/account/code", data={"csrf_token": token(desk, "/admin/account")})
    shown = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.get_data(as_text=True))
    assert shown
    app = desk.application
    held = app.session_interface.get_signing_serializer(app).loads(_cookie(desk))  # type: ignore[attr-defined]
    assert shown.group(1) not in str(held)  # (the cookie is signed, not secret)
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    sign_in(desk)
    secret, _ = _turn_on_code(desk, rt)
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    rt.clock.advance(timedelta(seconds=60))
    code = pyotp.TOTP(secret).at(rt.clock.now())
    sign_in(desk)
    assert _code_step(desk, code).status_code == 303
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    sign_in(desk)  # someone who saw it typed, a moment later
    assert _code_step(desk, code).status_code == 401
    assert desk.get("/admin").status_code == 302


def test_the_code_step_is_held_on_the_server(desk: FlaskClient, rt: Runtime) -> None:
    """Wrong codes count in the database (a replayed cookie cannot reset them) and signing
    out everywhere ends a code step half-done."""
    sign_in(desk)
    secret, _ = _turn_on_code(desk, rt)
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    sign_in(desk)
    copied = _cookie(desk)
    for _ in range(accounts.CODE_TRIES):
        assert _code_step(desk, "000000").status_code == 401
    replayed = _with_cookie(rt, copied)
    assert replayed.get("/admin/login/code").status_code == 302
    rt.clock.advance(timedelta(seconds=60))
    assert (
        _code_step(replayed, pyotp.TOTP(secret).at(rt.clock.now()), "/admin/login").status_code
        == 303
    )
    assert replayed.get("/admin").status_code == 302

    half = _with_cookie(rt, "")
    sign_in(half)  # the password, and the code page waiting
    assert half.get("/admin/login/code").status_code == 200
    other = _with_cookie(rt, "")
    sign_in(other)
    assert _code_step(other, pyotp.TOTP(secret).at(rt.clock.now())).status_code == 303
    other.post("/admin/account/sign-out-everywhere", data={"csrf_token": token(other, "/admin")})
    assert half.get("/admin/login/code").status_code == 302


def test_a_recovery_code_raced_by_two_sign_ins_opens_one(desk: FlaskClient, rt: Runtime) -> None:
    sign_in(desk)
    _, codes = _turn_on_code(desk, rt)
    with rt.database.session(read_only=True) as early:
        slow = accounts.find(early, "lee")  # read before the other sign-in spends the code
        assert slow is not None and slow.recovery_codes
    with rt.database.session() as second:
        fast = accounts.find(second, "lee")
        assert fast is not None
        assert accounts.check_code(second, fast, codes[0], rt.clock.now()) == "recovery code"
    with rt.database.session() as first:  # the slower sign-in writes from what it read
        assert accounts.check_code(first, slow, codes[0], rt.clock.now()) is None
    with rt.database.session(read_only=True) as db:
        user = accounts.find(db, "lee")
        assert (
            user is not None and accounts.recovery_codes_left(user) == accounts.RECOVERY_CODES - 1
        )


def test_guesses_at_one_account_are_limited_from_however_many_addresses(
    desk: FlaskClient,
) -> None:
    for n in range(10):
        assert sign_in(desk, password=f"guess {n}", ip=f"192.0.2.{100 + n}").status_code == 401
    assert sign_in(desk, ip="192.0.2.200").status_code == 429
    assert sign_in(desk, name="someone-else", ip="192.0.2.201").status_code == 401


def test_an_unknown_name_costs_a_password_check_like_a_known_one(
    desk: FlaskClient,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    sign_in(desk)  # the first account exists
    checks: list[str] = []

    class Counted(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checks.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "_hasher", Counted())
    sign_in(desk, name="nobody", password="guess one", ip="192.0.2.50")
    sign_in(desk, name="lee", password="guess two", ip="192.0.2.51")
    assert len(checks) == 2 and all(c.startswith("$argon2id$") for c in checks)


def test_the_command_line_adds_accounts_and_the_closed_desk_opens(rt: Runtime) -> None:
    client = desk_app(rt, ADMIN_PASSWORD="", ADMIN_PASSWORD_HASH="").test_client()
    assert client.get("/admin/login").status_code == 503
    runner = CliRunner(env=settings_env(rt.settings))
    short = runner.invoke(main, ["desk", "add-user", "Sam"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    made = runner.invoke(main, ["desk", "add-user", "Sam"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    again = runner.invoke(main, ["desk", "add-user", "SAM"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1 and "already an account" in again.output
    assert sign_in(client, name="sam").status_code == 303
    listed = runner.invoke(main, ["desk", "users"])
    assert "Sam" in listed.output and "no sign-in code" in listed.output
    new = "another long password"
    runner.invoke(main, ["desk", "password", "sam"], input=f"{new}\n{new}\n")
    assert client.get("/admin").status_code == 302  # signed out by the new password
    assert sign_in(client, name="sam", password=new).status_code == 303
    removed = runner.invoke(main, ["desk", "remove-user", "sam"])
    assert removed.exit_code == 0  # nobody has an account now: the desk is closed
    assert client.get("/admin").status_code == 503
    missing = runner.invoke(main, ["desk", "password", "nobody"], input=f"{new}\n{new}\n")
    assert missing.exit_code == 1 and "no account named" in missing.output


def test_the_audit_log_tells_who_did_what_from_where_and_is_kept_a_year(
    desk: FlaskClient, rt: Runtime
) -> None:
    with rt.database.session(read_only=True) as db:
        reader = db.get(Reader, enrolled(rt, "ren@example.test", timezone="UTC"))
        assert reader is not None
    sign_in(desk, password="a wrong guess", ip="192.0.2.9")
    sign_in(desk, ip="192.0.2.10")
    desk.get(f"/admin/readers/{reader.public_id}", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    paused = desk.post(
        f"/admin/readers/{reader.public_id}/pause",
        data={"csrf_token": token(desk, "/admin")},
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
    )
    assert paused.status_code == 303
    desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    with rt.database.session(read_only=True) as db:
        lines = [(x.action, x.user_name, x.ip, x.detail) for x in reversed(audit.page(db))]
    made, *lines = lines  # the first account, made from ADMIN_PASSWORD at the first sign-in
    assert made[0] == "account_added" and "from ADMIN_PASSWORD" in str(made[3])
    actions = [line[0] for line in lines]
    assert actions == ["sign_in_failed", "signed_in", "opened_reader", "pause", "signed_out"]
    assert lines[0][1] == "lee" and lines[0][2] == "192.0.2.9"
    assert lines[2][3] == reader.public_id and lines[3][3] == f"public_id={reader.public_id}"
    sign_in(desk)
    page = desk.get("/admin/audit").get_data(as_text=True)
    for words in ("A sign-in was refused", "Signed in", "Opened a reader", "Pause", "Signed out"):
        assert words in page
    assert "192.0.2.9" in page
    # lists of readers' words and addresses, refusals as refusals, a typed name never kept
    desk.get("/admin/replies?q=affair")
    desk.get("/admin/readers?q=ren")
    desk.get("/admin/emails?state=due")
    again = desk.post(
        f"/admin/readers/{reader.public_id}/pause", data={"csrf_token": token(desk, "/admin")}
    )
    assert again.status_code == 303  # already paused: "Nothing was changed"
    other = desk.application.test_client()
    sign_in(other, name="my-secret-password-typed-here", ip="192.0.2.77")
    for n in range(10):
        sign_in(other, password=f"guess {n}", ip=f"192.0.2.{120 + n}")
    assert sign_in(other, ip="192.0.2.140").status_code == 429
    with rt.database.session(read_only=True) as db:
        newest = [(x.action, x.user_name, x.detail) for x in reversed(audit.page(db))][-16:]
    assert ("searched_replies", "lee", "q=affair") in newest
    assert ("searched_readers", "lee", "q=ren") in newest
    assert ("listed_emails", "lee", "state=due") in newest
    assert ("pause_refused", "lee", f"public_id={reader.public_id}") in newest
    assert ("sign_in_failed", None, "a name that is no account") in newest
    assert ("sign_in_throttled", "lee", None) in newest
    assert "my-secret-password-typed-here" not in repr(newest)
    rt.clock.advance(timedelta(days=366))
    run_once(rt)
    with rt.database.session(read_only=True) as db:
        assert [x.action for x in audit.page(db)] == []


def test_an_argon2_hash_in_the_environment_makes_the_first_account(rt: Runtime) -> None:
    hashed = PasswordHasher().hash(PASSWORD)
    client = desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD_HASH=hashed).test_client()
    assert sign_in(client, password="nearly " + PASSWORD).status_code == 401
    assert sign_in(client).status_code == 303
    with rt.database.session(read_only=True) as db:
        user = accounts.find(db, "LEE")
        assert user is not None and user.password_hash == hashed
