"""Accounts on the web over HTTP, on both databases: the home page and the error pages, signing up
with a code texted through the outbox, a forgotten PIN, changing the PIN and the language, and a
session that lasts while in use and comes back to the page it left."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from fakes import FakeClock
from merchants import consumer, phone
from soko.bootstrap import Runtime
from soko.channels import i18n
from soko.channels.api.app import create_app
from soko.channels.web import session
from soko.channels.web.account import (
    _HAS_ACCOUNT_TEXT,
    _NO_ACCOUNT_TEXT,
    _RESET_TEXT,
    _SIGN_UP_TEXT,
)
from soko.channels.web.messages import MESSAGES, sentence_for, wait_in_units
from soko.context import Context
from soko.kernel import limits
from soko.notify.sms import fits
from soko.people import access
from soko.people import service as users
from soko.people.domain import User
from soko.people.errors import PinIncorrect, PinLocked

PIN = "2468"


@dataclass
class Site:
    ctx: Context
    clock: FakeClock
    client: TestClient

    def texts(self, number: str) -> list[str]:
        with self.ctx.unit_of_work(read_only=True) as uow:
            return [sms.text for sms in uow.notifications.list_sms_to(number, 100)]

    def code(self, number: str) -> str:
        found = re.search(r"\b(\d{6})\b", self.texts(number)[0])
        assert found is not None, self.texts(number)
        return found.group(1)


@pytest.fixture
def site(any_runtime: Runtime, clock: FakeClock) -> Site:
    app = create_app(any_runtime)
    return Site(any_runtime.context, clock, TestClient(app, follow_redirects=False))


def key_of(page: str, action: str) -> str:
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>.*?name="form_key" value="([^"]*)"', page, re.S
    )
    assert found is not None, page
    return found.group(1)


def send_code(
    site: Site, number: str, name: str = "Baraka", path: str = "/app/sign-up"
) -> Response:
    page = site.client.get(path).text
    data = {"phone": number, "country": "KE", "name": name, "form_key": key_of(page, path)}
    return site.client.post(path, data=data)


def enter_code(site: Site, page: Response, code: str, *, pin: str = PIN, again: str | None = None,
               path: str = "/app/sign-up/code", **more: str) -> Response:  # fmt: skip
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    return site.client.post(path, data=hidden | {
        "code": code, "pin": pin, "pin_again": pin if again is None else again} | more)  # fmt: skip


def sign_in(site: Site, user: User, pin: str, next_page: str = "") -> Response:
    page = site.client.get("/app/sign-in" + (f"?next={next_page}" if next_page else "")).text
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    return site.client.post("/app/sign-in", data=hidden | {"phone": user.phone, "pin": pin})


# --- the home page and the error pages ----------------------------------------------------------


def test_the_home_page_says_what_soko_is_and_links_sign_in_and_sign_up(site: Site) -> None:
    page = site.client.get("/")
    assert page.status_code == 200 and 'name="viewport"' in page.text
    assert 'href="/app/sign-in"' in page.text and 'href="/app/sign-up"' in page.text
    swahili = site.client.get("/", headers={"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"})
    assert 'lang="sw"' in swahili.text and "Ingia" in swahili.text


def test_public_pages_take_their_language_from_the_address_and_keep_it(site: Site) -> None:
    home = site.client.get("/?lang=sw", headers={"Accept-Language": "en"})
    assert '<html lang="sw">' in home.text and "Ingia" in home.text
    assert 'href="/?lang=en" lang="en" hreflang="en">English</a>' in home.text
    assert home.cookies.get("soko_language") == "sw"
    # The cookie now speaks for the next public page, whatever the browser says.
    sign_in = site.client.get("/app/sign-in?next=/app/statement", headers={"Accept-Language": "en"})
    assert "Ingia kwenye Soko" in sign_in.text
    # The switch keeps where the person was going.
    assert 'href="/app/sign-in?next=%2Fapp%2Fstatement&amp;lang=en"' in sign_in.text
    english = site.client.get("/app/sign-up?lang=en")
    assert '<html lang="en">' in english.text and english.cookies.get("soko_language") == "en"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/app/no-such-page", 404),
        ("GET", "/pay/" + "x" * 65, 422),
        ("GET", "/pay/pr_unknown/nothing", 404),
        ("DELETE", "/app/sign-in", 405),
        ("PUT", "/", 405),
        ("GET", "/app/orders/" + "o" * 80, 422),
    ],
)
def test_web_paths_answer_errors_with_a_page_home(
    site: Site, method: str, path: str, status: int
) -> None:
    response = site.client.request(method, path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert 'name="viewport"' in response.text and 'href="/"' in response.text
    if status == 405:
        assert "GET" in response.headers["allow"]


def test_the_json_api_keeps_problem_json(site: Site) -> None:
    response = site.client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_failing_web_page_is_a_page_and_says_nothing_of_the_failure(any_runtime: Runtime) -> None:
    app = create_app(any_runtime)

    @app.get("/app/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    response = TestClient(app, raise_server_exceptions=False).get("/app/boom")
    assert response.status_code == 500 and "text/html" in response.headers["content-type"]
    assert "secret detail" not in response.text and 'href="/"' in response.text


# --- signing up ---------------------------------------------------------------------------------


def test_sign_up_with_the_code_from_the_sms_then_a_pin(site: Site) -> None:
    number = phone()
    page = send_code(site, number)
    assert page.status_code == 200 and "Enter your code" in page.text
    [text] = site.texts(number)
    assert "sign-up code" in text and len(text) <= 160
    code = site.code(number)
    # Codes are kept hashed only.
    with site.ctx.unit_of_work() as uow:  # get_code locks the row: not a read-only one
        kept = uow.people.get_code(number, "sign_up")
    assert kept is not None and kept.code_hash is not None and code not in kept.code_hash
    done = enter_code(site, page, code)
    assert (done.status_code, done.headers["location"]) == (303, "/app"), done.text
    home = site.client.get("/app")
    assert home.status_code == 200 and "Baraka" in home.text
    user = users.find_by_phone(site.ctx, number)
    assert user.kyc_tier == 0 and user.has_pin
    # The code acted once.
    site.client.cookies.clear()
    fresh = site.client.get("/app/sign-up").text
    again = enter_code(site, page, code, form_key=key_of(fresh, "/app/sign-up"))
    assert again.status_code == 422 and "expired or was used" in again.text


def test_a_wrong_code_counts_and_five_end_it_without_touching_any_pin(site: Site) -> None:
    number = phone()
    page = send_code(site, number)
    code = site.code(number)
    wrong = "000000" if code != "000000" else "111111"
    for left in range(limits.CODE_TRIES_MAX - 1, 0, -1):
        page = enter_code(site, page, wrong)
        assert page.status_code == 422
        assert f"{left} {'try' if left == 1 else 'tries'} left" in page.text
    page = enter_code(site, page, wrong)
    assert page.status_code == 422
    response = enter_code(site, page, code)  # the right one, too late
    assert response.status_code == 422 and "expired or was used" in response.text
    with pytest.raises(Exception, match="user"):
        users.find_by_phone(site.ctx, number)


def test_an_expired_code_and_different_pins_are_refused(site: Site) -> None:
    number = phone()
    page = send_code(site, number)
    code = site.code(number)
    differ = enter_code(site, page, code, again="9999")
    assert differ.status_code == 422 and "not the same" in differ.text
    site.clock.advance(limits.CODE_SECONDS + 1)
    late = enter_code(site, differ, code)
    assert late.status_code == 422 and "expired" in late.text


def test_codes_per_number_are_limited_per_hour(site: Site) -> None:
    number = phone()
    for _ in range(limits.CODE_SENDS_PER_WINDOW_MAX):
        assert send_code(site, number).status_code == 200
    refused = send_code(site, number)
    assert refused.status_code == 422 and "Too many codes" in refused.text
    assert "Try again in 60 minutes" in refused.text or "Try again in 1 hour" in refused.text
    assert len(site.texts(number)) == limits.CODE_SENDS_PER_WINDOW_MAX
    site.clock.advance(limits.CODE_SENDS_WINDOW_SECONDS)
    assert send_code(site, number).status_code == 200


def test_one_address_may_not_spray_codes_over_many_numbers(site: Site) -> None:
    for _ in range(limits.PIN_TRIES_PER_ADDRESS_MAX):
        assert send_code(site, phone()).status_code == 200
    number = phone()
    refused = send_code(site, number)
    assert refused.status_code == 422 and "Too many codes" in refused.text
    assert site.texts(number) == []
    site.clock.advance(limits.PIN_TRIES_WINDOW_SECONDS)
    assert send_code(site, number).status_code == 200


def test_a_registered_number_is_texted_to_sign_in_and_the_page_says_no_more(site: Site) -> None:
    someone = consumer(site.ctx, "Amina")
    fresh = send_code(site, phone())
    taken = send_code(site, someone.phone)
    assert taken.status_code == fresh.status_code == 200
    assert "Enter your code" in taken.text
    [text] = site.texts(someone.phone)
    assert "Sign in" in text and not re.search(r"\d{6}", text)
    # Whatever the asker types, the account and its PIN are untouched.
    assert enter_code(site, taken, "123456").status_code == 422
    assert users.verify_pin(site.ctx, someone.id, "2468").id == someone.id


def test_forms_from_another_origin_or_without_key_are_refused(site: Site) -> None:
    number = phone()
    stranger = TestClient(site.client.app, follow_redirects=False)
    for path, data in (
        ("/app/sign-up", {"phone": number, "name": "X"}),
        ("/app/forgot-pin", {"phone": number}),
        ("/app/sign-up/code", {"phone": number, "code": "123456", "pin": PIN, "pin_again": PIN}),
        ("/app/forgot-pin/code", {"phone": number, "code": "123456", "pin": PIN, "pin_again": PIN}),
    ):
        response = stranger.post(path, data=data | {"form_key": "forged"})
        assert response.status_code == 403, path
        assert "out of date" in response.text
    assert site.texts(number) == []


def test_bad_input_is_refused_on_the_form(site: Site) -> None:
    for data, words in (
        ({"phone": "not a number", "name": "Baraka"}, "does not look right"),
        ({"phone": phone(), "name": ""}, ""),
        ({"phone": "1500 KES", "name": "Baraka"}, "does not look right"),
    ):
        page = site.client.get("/app/sign-up").text
        response = site.client.post("/app/sign-up", data=data | {
            "country": "KE", "form_key": key_of(page, "/app/sign-up")})  # fmt: skip
        assert response.status_code == 422, response.text
        assert words in response.text
    too_long = site.client.post("/app/sign-up", data={"phone": "7" * 200})
    assert too_long.status_code == 422 and "text/html" in too_long.headers["content-type"]


# --- a forgotten PIN ----------------------------------------------------------------------------


def test_forgotten_pin_needs_the_national_id_on_record_and_ends_other_sessions(site: Site) -> None:
    user = consumer(site.ctx, "Amina")  # tier 2, national id 12345678
    other = access.sign_in(site.ctx, phone=user.phone, pin="2468")
    page = send_code(site, user.phone, path="/app/forgot-pin")
    code = site.code(user.phone)
    assert "new PIN" in site.texts(user.phone)[0]
    no_id = enter_code(site, page, code, pin="1357", path="/app/forgot-pin/code")
    assert no_id.status_code == 422 and "national ID" in no_id.text
    done = enter_code(site, no_id, code, pin="1357", path="/app/forgot-pin/code",
                      national_id=" 1234 5678 ")  # fmt: skip
    assert (done.status_code, done.headers["location"]) == (303, "/app"), done.text
    assert site.client.get("/app").status_code == 200
    with pytest.raises(Exception, match="ession"):
        access.authenticate_session(site.ctx, other.token)
    assert users.verify_pin(site.ctx, user.id, "1357").id == user.id


def test_forgotten_pin_of_a_number_without_account_texts_how_to_sign_up(site: Site) -> None:
    number = phone()
    page = send_code(site, number, path="/app/forgot-pin")
    assert page.status_code == 200 and "Enter your code" in page.text
    [text] = site.texts(number)
    assert "no Soko account" in text and not re.search(r"\d{6}", text)


def test_a_tier_zero_person_resets_with_the_code_alone(site: Site) -> None:
    user = users.register(site.ctx, kind=users.UserKind.CONSUMER, phone=phone(), name="Juma",
                          pin="2468")  # fmt: skip
    page = send_code(site, user.phone, path="/app/forgot-pin")
    done = enter_code(site, page, site.code(user.phone), pin="8080", path="/app/forgot-pin/code")
    assert done.status_code == 303
    assert users.verify_pin(site.ctx, user.id, "8080").id == user.id


# --- the account page ---------------------------------------------------------------------------


def test_change_pin_and_language(site: Site) -> None:
    user = consumer(site.ctx, "Amina")
    assert sign_in(site, user, "2468").status_code == 303
    page = site.client.get("/app/account").text
    post = {"form_key": key_of(page, "/app/account/pin")}
    wrong = site.client.post("/app/account/pin", data=post | {
        "old_pin": "1111", "pin": "1357", "pin_again": "1357"})  # fmt: skip
    assert wrong.status_code == 422 and "Wrong PIN" in wrong.text and "4 tries left" in wrong.text
    forged = site.client.post("/app/account/pin", data={
        "form_key": "x.y", "old_pin": "2468", "pin": "1357", "pin_again": "1357"})  # fmt: skip
    assert forged.status_code == 403 and "out of date" in forged.text
    done = site.client.post("/app/account/pin", data=post | {
        "old_pin": "2468", "pin": "1357", "pin_again": "1357"})  # fmt: skip
    assert (done.status_code, done.headers["location"]) == (303, "/app/account?done=pin")
    assert "Your PIN is changed" in site.client.get(done.headers["location"]).text
    assert users.verify_pin(site.ctx, user.id, "1357").id == user.id
    page = site.client.get("/app/account").text
    chosen = site.client.post("/app/account/language", data={
        "form_key": key_of(page, "/app/account/language"), "language": "sw"})  # fmt: skip
    assert chosen.status_code == 303
    swahili = site.client.get("/app/account").text
    assert 'lang="sw"' in swahili and "Badilisha PIN" in swahili
    # Pages without a session speak it too (a cookie that names no one).
    assert site.client.cookies.get(session.LANGUAGE_COOKIE) == "sw"
    assert 'lang="sw"' in site.client.get("/app/no-such-page").text
    bad = site.client.post("/app/account/language", data={
        "form_key": key_of(swahili, "/app/account/language"), "language": "xx"})  # fmt: skip
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    # Refusals speak the person's language too.
    wrong = site.client.post("/app/account/pin", data={
        "form_key": key_of(swahili, "/app/account/pin"),
        "old_pin": "1111", "pin": "2468", "pin_again": "2468"})  # fmt: skip
    assert "PIN si sahihi" in wrong.text and "Zimebaki" in wrong.text


# --- sessions -----------------------------------------------------------------------------------


def test_the_session_slides_while_in_use_up_to_its_cap(site: Site) -> None:
    user = consumer(site.ctx, "Amina")
    assert sign_in(site, user, "2468").status_code == 303
    idle = limits.WEB_SESSION_IDLE_SECONDS
    # In use every 20 minutes (less than the idle time), the session goes on...
    used = 0
    while used + 20 * 60 < limits.WEB_SESSION_SECONDS_MAX:
        site.clock.advance(20 * 60)
        used += 20 * 60
        assert site.client.get("/app").status_code == 200, used
    # ...to its cap, and no further.
    site.clock.advance(limits.WEB_SESSION_SECONDS_MAX - used)
    assert site.client.get("/app").status_code == 303
    # Left alone longer than the idle time, it ends.
    assert sign_in(site, user, "2468").status_code == 303
    site.clock.advance(idle + 1)
    assert site.client.get("/app").status_code == 303


def test_a_page_is_extended_only_when_half_the_idle_time_is_gone(site: Site) -> None:
    user = consumer(site.ctx, "Amina")
    made = access.sign_in(site.ctx, phone=user.phone, pin="2468",
                          seconds=limits.WEB_SESSION_IDLE_SECONDS)  # fmt: skip

    def expiry() -> object:
        with site.ctx.unit_of_work(read_only=True) as uow:
            times = uow.people.session_times(access._digest(made.token), site.clock.now())
        assert times is not None
        return times[1]

    first = expiry()
    site.client.cookies.set(session.COOKIE, made.token, path="/app")
    site.clock.advance(60)
    assert site.client.get("/app").status_code == 200
    assert expiry() == first  # no write
    site.clock.advance(limits.WEB_SESSION_IDLE_SECONDS // 2)
    assert site.client.get("/app").status_code == 200
    assert expiry() != first


def test_after_an_expired_session_sign_in_returns_to_the_page(site: Site) -> None:
    user = consumer(site.ctx, "Amina")
    away = site.client.get("/app/orders?cursor=abc")
    assert away.headers["location"] == "/app/sign-in?next=%2Fapp%2Forders%3Fcursor%3Dabc"
    back = sign_in(site, user, "2468", next_page="%2Fapp%2Forders")
    assert back.headers["location"] == "/app/orders"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/app", "//evil.example/app", "/app/../x", "/\\evil.example",
     "/application", "/app//evil.example", "/app/sign-in", "javascript:alert(1)"],
)  # fmt: skip
def test_only_local_app_pages_are_returned_to(site: Site, target: str) -> None:
    user = consumer(site.ctx, "Amina")
    page = site.client.get("/app/sign-in", params={"next": target}).text
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    response = site.client.post("/app/sign-in", data=hidden | {
        "phone": user.phone, "pin": "2468", "next": target})  # fmt: skip
    assert response.headers["location"] == "/app", target


# --- the web's error sentences in every language ------------------------------------------------


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.SOURCE])
def test_every_error_sentence_of_the_web_has_its_translation(language: str) -> None:
    catalogue = i18n.catalogue(language)
    missing = sorted(set(MESSAGES.values()) - set(catalogue))
    assert not missing, missing


def test_a_sentence_speaks_the_persons_language_with_its_facts() -> None:
    swahili = i18n.translator("sw")
    locked = PinLocked(retry_after=15 * 60)
    assert sentence_for(locked) == (
        "Your PIN is locked after too many wrong tries. Try again in 15 minutes."
    )
    assert sentence_for(locked, swahili).endswith("Jaribu tena baada ya dakika 15.")
    assert sentence_for(PinIncorrect(tries_left=1), swahili) == (
        "PIN si sahihi. Tafadhali jaribu tena. Imebaki nafasi 1."
    )
    assert wait_in_units(24 * 3600) == (24, "hour")  # as USSD reads it


@pytest.mark.parametrize("text", [_SIGN_UP_TEXT, _HAS_ACCOUNT_TEXT, _RESET_TEXT, _NO_ACCOUNT_TEXT])
@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_code_text_fits_one_sms(text: str, language: str) -> None:
    assert fits(i18n.translator(language)(text).format(code="123456"))


def test_codes_long_over_are_forgotten_by_the_worker_job(site: Site) -> None:
    number = phone()
    send_code(site, number)
    site.clock.advance(2 * 24 * 3600)
    assert users.forget_pin_tries(site.ctx) >= 1
    with site.ctx.unit_of_work() as uow:
        assert uow.people.get_code(number, "sign_up") is None
    assert send_code(site, number).status_code == 200
