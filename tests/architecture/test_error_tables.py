"""Every domain error is well formed and every channel's error table covers it.

The errors are found by walking `all_error_classes()`, so a new error is checked the moment it is
written: a code and title of its own, a kind, a place in its errors.py's drawn hierarchy, an HTTP
status and problem+json body, and the CLI's `code: detail` with exit code 2.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from typing import get_args

import pytest
import typer

from soko import features
from soko.channels import i18n
from soko.channels.api.problems import TYPE_BASE, problem_body, status_for
from soko.channels.cli.main import EXIT_REFUSED, refusals_as_exit_codes
from soko.channels.ussd.menus import fits as fits_ussd_screen
from soko.channels.ussd.messages import SCREENS as USSD_SCREENS
from soko.channels.ussd.messages import screen_for as ussd_screen_for
from soko.credit.errors import (
    ExceedsOfferLimit,
    LoanAlreadyOpen,
    OfferAlreadyUsed,
    OfferExpired,
    RepaymentExceedsOutstanding,
)
from soko.escrow.errors import (
    DeliveryCodeIncorrect,
    DeliveryCodeLocked,
    EscrowAlreadyCancelled,
    EscrowAlreadyFunded,
    EscrowAlreadyRefunded,
    EscrowAlreadyReleased,
    EscrowAlreadyResolved,
    EscrowDisputed,
    EscrowNotFound,
    EscrowNotFunded,
)
from soko.kernel import errors as kernel_errors
from soko.kernel.errors import (
    AmountMalformed,
    AmountMustBePositive,
    AmountOverflows,
    AmountTooPrecise,
    Conflict,
    CurrencyNotOffered,
    DomainError,
    ErrorKind,
    Forbidden,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    Rejected,
    TextInvalid,
    TransactionConflict,
    Unauthenticated,
    all_error_classes,
)
from soko.ledger.errors import ExceedsCredits
from soko.payments.errors import (
    MerchantNotFound,
    PaymentRequestAlreadyPaid,
    PaymentRequestCancelled,
    PaymentRequestExpired,
    PaymentRequestNotFound,
    ReferenceInvalid,
)
from soko.people.errors import (
    CountryNotServed,
    CountryUnknown,
    ExceedsBalanceLimit,
    ExceedsDailyLimit,
    ExceedsMonthlyLimit,
    ExceedsTransactionLimit,
    NoWalletInCurrency,
    PhoneNumberInvalid,
    PinBusy,
    PinIncorrect,
    PinLocked,
    PinMalformed,
    PinNotSet,
    PinTriesExceeded,
    RecipientIsSender,
    UserKindMismatch,
    UserNotFound,
)

ERROR_MODULES = [kernel_errors, *features.modules("errors")]
ERRORS = all_error_classes()
CATEGORIES = {
    InvalidInput: "invalid",
    NotFound: "not_found",
    Conflict: "conflict",
    Rejected: "rejected",
    Forbidden: "forbidden",
    Unauthenticated: "unauthenticated",
}
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def each_error(**marks: pytest.MarkDecorator) -> list[object]:
    """ERRORS as parameters named by code; `marks` marks the rows of the given codes."""
    return [
        pytest.param(cls, id=cls.code, marks=[marks[cls.code]] if cls.code in marks else [])
        for cls in ERRORS
    ]


def category(cls: type[DomainError]) -> type[DomainError] | None:
    return next((base for base in CATEGORIES if issubclass(cls, base)), None)


def test_the_walk_finds_every_error_class_in_the_errors_modules() -> None:
    # The walk only sees imported classes, so every error lives in the kernel's or a feature's
    # errors.py, where it cannot be missed.
    defined = {
        value
        for module in ERROR_MODULES
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, DomainError)
    }
    assert defined == set(ERRORS)
    assert len(ERRORS) > 40


def test_codes_are_unique() -> None:
    repeated = {code: n for code, n in Counter(cls.code for cls in ERRORS).items() if n > 1}
    assert not repeated, f"codes used by more than one error: {repeated}"


@pytest.mark.parametrize("cls", each_error())
def test_error_has_its_own_code_title_and_a_kind(cls: type[DomainError]) -> None:
    # Set in the class body itself: an inherited code or title would name the wrong rule.
    assert "code" in vars(cls), f"{cls.__name__} inherits its code"
    assert "title" in vars(cls), f"{cls.__name__} inherits its title"
    assert SNAKE_CASE.fullmatch(cls.code), cls.code
    assert cls.title.strip() and cls.title.endswith("."), cls.title
    assert cls.kind in get_args(ErrorKind)
    assert isinstance(cls.transient, bool)
    base = category(cls)
    if base is not None:
        assert cls.kind == CATEGORIES[base], f"{cls.__name__} is a {base.__name__}"
    else:
        assert cls is DomainError


def drawn_hierarchy() -> tuple[dict[str, str], dict[str, str]]:
    """From the errors modules' docstrings: category -> kind, and error -> the category it is
    drawn under in the module that defines it."""
    kinds: dict[str, str] = {}
    parents: dict[str, str] = {}
    for module in ERROR_MODULES:
        assert module.__doc__ is not None, module.__name__
        drawing = module.__doc__.split("DomainError\n", 1)[1].split("\n\n", 1)[0]
        defined_here = {
            name
            for name, value in vars(module).items()
            if getattr(value, "__module__", "") == module.__name__
        }
        module_kinds, module_parents = _read_drawing(drawing.splitlines())
        kinds.update(module_kinds)
        parents.update({k: v for k, v in module_parents.items() if k in defined_here})
        elsewhere = set(module_parents) - defined_here
        assert not elsewhere, f"{module.__name__} draws errors defined elsewhere: {elsewhere}"
    return kinds, parents


def _read_drawing(lines: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    kinds: dict[str, str] = {}
    parents: dict[str, str] = {}
    current = ""
    for line in lines:
        heading = re.match(r"\s*[├└]── (\w+)\s+kind=(\w+)", line)
        if heading:
            current = heading.group(1)
            kinds[current] = heading.group(2)
            continue
        for name in re.findall(r"\b[A-Z]\w+", line):
            parents[name] = current
    return kinds, parents


@pytest.mark.parametrize(
    "cls",
    each_error(),
)
def test_error_is_drawn_in_the_module_docstring_under_its_category(
    cls: type[DomainError],
) -> None:
    kinds, parents = drawn_hierarchy()
    if cls is DomainError:
        return
    if cls in CATEGORIES:
        assert kinds.get(cls.__name__) == cls.kind
    else:
        base = category(cls)
        assert base is not None
        assert parents.get(cls.__name__) == base.__name__


def test_the_docstring_draws_no_error_that_does_not_exist() -> None:
    kinds, parents = drawn_hierarchy()
    assert set(kinds) | set(parents) <= {cls.__name__ for cls in ERRORS}


# --- the API: RFC 9457 problem+json ------------------------------------------------------------


@pytest.mark.parametrize("cls", each_error())
def test_api_maps_error_to_a_status_and_problem_body(cls: type[DomainError]) -> None:
    status = status_for(cls)
    assert 400 <= status <= 599
    # 5xx says "not your fault, try again": exactly the transient errors.
    assert (status >= 500) == cls.transient

    body = problem_body(cls("What went wrong, in words.", index=3), instance="/v1/transfers")
    assert body == {
        "type": TYPE_BASE + cls.code,
        "title": cls.title,
        "status": status,
        "detail": "What went wrong, in words.",
        "code": cls.code,
        "instance": "/v1/transfers",
        "index": 3,
    }
    assert problem_body(cls())["detail"] == cls.title


def test_problem_body_passes_plain_facts_only_and_never_overrides_a_member() -> None:
    error = ExceedsCredits(
        available=700, account_id="acc_1", currencies=["KES"], status=200, code="ok"
    )
    body = problem_body(error)
    assert body["status"] == 422
    assert body["code"] == "exceeds_credits"
    assert body["available"] == 700
    assert body["account_id"] == "acc_1"
    assert "currencies" not in body


# --- the CLI: `code: detail` on stderr, exit code 2 --------------------------------------------


def refuse(error: DomainError) -> typer.Exit:
    @refusals_as_exit_codes
    def command() -> None:
        raise error

    with pytest.raises(typer.Exit) as caught:
        command()
    assert caught.value.__cause__ is error
    return caught.value


@pytest.mark.parametrize("cls", each_error())
def test_cli_refuses_with_exit_code_2_and_code_detail(
    cls: type[DomainError], capsys: pytest.CaptureFixture[str]
) -> None:
    error = cls()
    assert refuse(error).exit_code == EXIT_REFUSED == 2
    out, err = capsys.readouterr()
    assert out == ""
    # Joined back together here: whether long lines wrap is test_cli_refusal_is_one_line's.
    assert " ".join(err.split()) == f"{cls.code}: {error.detail}"


def test_cli_passes_success_and_programmer_errors_through() -> None:
    @refusals_as_exit_codes
    def works(x: int) -> int:
        return x + 1

    @refusals_as_exit_codes
    def crashes() -> None:
        raise KeyError("bug")

    assert works(1) == 2
    with pytest.raises(KeyError):
        crashes()


def test_cli_refusal_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    detail = "word " * 200
    refuse(AmountMalformed(detail.strip()))
    assert capsys.readouterr().err == f"amount_malformed: {detail.strip()}\n"


@pytest.mark.parametrize("echoed", ["[/x]", "[bold]1"])
def test_cli_prints_the_detail_verbatim(echoed: str, capsys: pytest.CaptureFixture[str]) -> None:
    detail = f"{echoed!r} is not a plain decimal number."
    assert refuse(AmountMalformed(detail)).exit_code == EXIT_REFUSED
    assert capsys.readouterr().err == f"amount_malformed: {detail}\n"


# --- USSD: a short END screen -------------------------------------------------------------------

#: Errors a USSD dialogue can meet (the use cases its menus call): each has its own screen, not
#: its category's.
USSD_MEETS = {
    UserNotFound, PhoneNumberInvalid, MerchantNotFound,
    RecipientIsSender, UserKindMismatch, CountryUnknown, CountryNotServed,
    PinIncorrect, PinMalformed, PinLocked, PinNotSet, PinBusy, TextInvalid,
    AmountMalformed, AmountTooPrecise, AmountOverflows,
    AmountMustBePositive, CurrencyNotOffered,
    ExceedsCredits, NoWalletInCurrency, ExceedsDailyLimit, ExceedsMonthlyLimit,
    ExceedsTransactionLimit, ExceedsBalanceLimit,
    EscrowNotFound, EscrowAlreadyFunded, EscrowNotFunded,
    EscrowDisputed, EscrowAlreadyReleased, EscrowAlreadyRefunded,
    EscrowAlreadyCancelled, EscrowAlreadyResolved,
    DeliveryCodeIncorrect, DeliveryCodeLocked,
    IdempotencyKeyInvalid, IdempotencyKeyReused, TransactionConflict,
    PaymentRequestNotFound, PaymentRequestAlreadyPaid, PaymentRequestExpired,
    PaymentRequestCancelled, ReferenceInvalid, OfferExpired, OfferAlreadyUsed,
    ExceedsOfferLimit, LoanAlreadyOpen, RepaymentExceedsOutstanding,
}  # fmt: skip
#: "Try again", in each language USSD speaks, and "5 tries left".
TRY_AGAIN = {"en": ("try again", "5 tries left."), "sw": ("jaribu tena", "Zimebaki nafasi 5.")}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("cls", each_error())
def test_ussd_ends_every_error_with_a_short_screen(cls: type[DomainError], language: str) -> None:
    translate = i18n.translator(language)
    try_again, tries_left = TRY_AGAIN[language]
    detail = "What went wrong, in words the caller must not see."
    text = ussd_screen_for(cls(detail, tries_left=5), translate)
    assert text.endswith(f" {tries_left}")
    text = ussd_screen_for(cls(detail), translate)
    # One GSM-7 message with room to spare for the tries left.
    assert fits_ussd_screen(f"END {text} {tries_left}"), text
    assert text.endswith(".") and detail not in text
    # "Try again" says the same request may work later: exactly the transient errors.
    assert (try_again in text.lower()) == cls.transient, text


def test_ussd_gives_its_own_screen_to_every_error_a_dialogue_meets() -> None:
    assert set(USSD_SCREENS) <= set(ERRORS)
    assert set(USSD_SCREENS) >= USSD_MEETS, USSD_MEETS - set(USSD_SCREENS)
    assert ussd_screen_for(PinIncorrect(tries_left=1)) == "Wrong PIN. 1 try left."
    swahili = i18n.translator("sw")
    assert (
        ussd_screen_for(PinIncorrect(tries_left=1), swahili) == "PIN si sahihi. Imebaki nafasi 1."
    )
    locked = PinLocked(retry_after=3600, tries_left=0)
    assert ussd_screen_for(locked) == "Your PIN is locked after too many wrong tries. Wait 1 hour."
    assert (
        ussd_screen_for(locked, swahili)
        == "PIN yako imefungwa baada ya makosa mengi. Subiri saa 1."
    )


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("wait", [1, 2, 60, 59 * 60, 15 * 60, 3600, 7200, 7201, 24 * 3600])
def test_ussd_says_how_long_a_lock_lasts_in_every_language(wait: int, language: str) -> None:
    translate = i18n.translator(language)
    for error in (PinLocked(retry_after=wait, tries_left=0), PinTriesExceeded(retry_after=wait)):
        text = ussd_screen_for(error, translate)
        assert fits_ussd_screen(f"END {text}"), text
        assert text.endswith("."), text
        assert ("Wait" in text or "Subiri" in text) == (wait > 1), text


def test_every_ussd_error_screen_is_translated_into_every_language() -> None:
    for language in i18n.LANGUAGES:
        if language != i18n.SOURCE:
            missing = set(USSD_SCREENS.values()) - set(i18n.catalogue(language))
            assert not missing, (language, missing)


# --- assertions stay on ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "refused"),
    [pytest.param([], False, id="normally"), pytest.param(["-O"], True, id="python -O")],
)
def test_soko_refuses_to_start_without_assertions(flags: list[str], refused: bool) -> None:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, *flags, "-c", "import soko.bootstrap"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert (result.returncode != 0) == refused, result.stderr
    assert ("assertions on" in result.stderr) == refused, result.stderr
