"""Top up from M-Pesa on USSD, against the Daraja sandbox on SQLite and PostgreSQL: amount,
confirmation, the STK prompt sent to the caller's phone, in English and Kiswahili; a resent final
request gets the same screen and prompts once; every screen fits one USSD page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from merchants import balance
from mpesa_world import MpesaWorld, wait_for
from soko.deposits.domain import DepositState
from soko.people import service as users
from soko.rails.mpesa.sandbox import CallbackMode, Kind, Script
from ussd_world import AMINA_PIN, MAIN, Ussd
from ussd_world import world as ussd_world

TOP_UP = "\n9 Top up from M-Pesa"


@pytest.fixture
def ussd(world: MpesaWorld) -> Iterator[Ussd]:
    yield from ussd_world(world.runtime, world.clock)


def pushes(world: MpesaWorld) -> int:
    return len([t for t in world.sandbox.transactions() if t.kind is Kind.STK])


def test_top_up_prompts_the_callers_phone_and_credits_once(world: MpesaWorld, ussd: Ussd) -> None:
    before = balance(ussd.ctx, ussd.amina.id)
    screens = ussd.session(ussd.amina.phone, "9", "1500", "1")
    assert screens[0] == "CON " + MAIN.removeprefix("CON ") + TOP_UP
    assert screens[1] == "CON Top up from M-Pesa\nEnter the amount (KES):\n0 Back 00 Menu"
    assert screens[2] == (
        f"CON Top up KES 1,500.00 from M-Pesa {ussd.amina.phone}?\n1 Confirm\n0 Back 00 Menu"
    )
    assert screens[3].startswith("END Check your phone for the M-Pesa prompt to pay KES 1,500.00")
    [entry] = [t for t in world.sandbox.transactions() if t.kind is Kind.STK]
    assert entry.party == ussd.amina.phone.removeprefix("+")
    wait_for(lambda: balance(ussd.ctx, ussd.amina.id) == before + 1500_00)
    assert world.reconciled() and world.statement_agrees()


def test_a_resent_final_request_gets_the_same_screen_and_prompts_once(
    world: MpesaWorld, ussd: Ussd
) -> None:
    session = ussd.new_session()
    for text in ("", "9", "9*200"):
        ussd.dial(ussd.amina.phone, text, session)
    first = ussd.dial(ussd.amina.phone, "9*200*1", session)
    again = ussd.dial(ussd.amina.phone, "9*200*1", session)
    assert first == again and first.startswith("END Check your phone")
    assert pushes(world) == 1


def test_amounts_mpesa_cannot_take_are_asked_again(world: MpesaWorld, ussd: Ussd) -> None:
    screens = ussd.session(ussd.amina.phone, "9", "10.50", "300000")
    assert screens[2].startswith("CON M-Pesa moves whole shillings")
    assert screens[2].endswith("Enter the amount (KES):\n0 Back 00 Menu")
    assert screens[3].startswith("CON M-Pesa moves whole shillings")
    assert pushes(world) == 0


def test_a_prompt_with_no_answer_yet_stays_pending(world: MpesaWorld, ussd: Ussd) -> None:
    world.sandbox.script(Script(mode=CallbackMode.NEVER))
    screens = ussd.session(ussd.amina.phone, "9", "100", "1")
    assert screens[3].startswith("END Check your phone")
    assert states(world) == [DepositState.PENDING.value]


def test_a_prompt_daraja_refuses_says_so(world: MpesaWorld, ussd: Ussd) -> None:
    world.sandbox.stop()  # Daraja unreachable: surely not sent
    screens = ussd.session(ussd.amina.phone, "9", "100", "1")
    assert screens[3] == "END M-Pesa could not send the prompt. Please try again later."
    assert states(world) == [DepositState.FAILED.value]


def test_in_kiswahili(world: MpesaWorld, ussd: Ussd) -> None:
    users.set_language(ussd.ctx, ussd.amina.id, "sw")
    screens = ussd.session(ussd.amina.phone, "9", "250", "1")
    assert screens[0].endswith("\n9 Weka pesa kwa M-Pesa")
    assert screens[1].startswith("CON Weka pesa kwa M-Pesa\nWeka kiasi (KES):")
    assert screens[2].startswith("CON Weka KES")
    assert screens[3].startswith("END Angalia simu yako: M-Pesa itakuomba kulipa KES")


def test_merchants_see_it_after_their_shop(world: MpesaWorld, ussd: Ussd) -> None:
    screens = ussd.session(ussd.shop_phone, "10")
    assert screens[0].endswith("\n9 My shop\n10 Top up from M-Pesa")
    assert screens[1].startswith("CON Top up from M-Pesa")
    users.set_language(ussd.ctx, ussd.kiosk.user_id, "sw")
    longest = ussd.session(ussd.shop_phone)[0]  # ten options, in the longer language: fits
    assert longest.endswith("\n9 Duka langu\n10 Weka pesa kwa M-Pesa")
    assert AMINA_PIN  # the top-up asks for no Soko PIN: M-Pesa's own prompt takes the M-Pesa PIN


def states(world: MpesaWorld) -> list[str]:
    with world.runtime.engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT state FROM mpesa_deposits")).scalars())
