"""USSD dialogues through POST /ussd, as the aggregator drives them, on both databases.

Every response is checked on the way (`Ussd.dial`): a 200 answer in text/plain that starts with
"CON " or "END " and fits one USSD message in GSM-7. The money checks read balances through the
use cases: each movement is exact, confirmed with the PIN, and happens once however often the
aggregator resends the final request.
"""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merchants import Snapshot, available, balance, consumer, fees, kes, key, shop
from soko.bootstrap import Runtime
from soko.channels import i18n
from soko.channels.api.app import create_app
from soko.channels.ussd import menus
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState, OrderItem
from soko.kernel import limits
from soko.kernel.money import Money
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.people import service as users
from ussd_world import (
    AGENT_PIN,
    AMINA_PIN,
    MAIN,
    SHOP_PIN,
    TOKEN,
    Ussd,
    check_screen,
    local,
    with_token,
)

# --- the main menu and the balance ---------------------------------------------------------------


def test_the_first_request_shows_the_main_menu(ussd: Ussd) -> None:
    screen = ussd.dial(ussd.amina.phone, "")
    assert screen == MAIN


def test_the_balance_needs_the_pin_and_shows_each_wallet(ussd: Ussd) -> None:
    screens = ussd.session(ussd.amina.phone, "1", AMINA_PIN)
    assert screens[1].startswith("CON My balance\nEnter your PIN:")
    assert screens[2] == "END Your balance:\nKES 5,000.00"
    ussd.funded("2400.00")
    [*_, last] = ussd.session(ussd.amina.phone, "1", AMINA_PIN)
    assert last == "END Your balance:\nKES 5,000.00, KES 2,600.00 free"


def test_an_unregistered_number_is_told_to_register(ussd: Ussd) -> None:
    for text in ("", "1", "2*0722000000*100*1*1234"):
        assert ussd.dial("+254799999999", text) == f"END {menus.NOT_REGISTERED}"
    assert ussd.dial("0799999999", "") == f"END {menus.NOT_REGISTERED}"


def test_a_number_without_its_plus_is_still_the_caller(sqlite_ussd: Ussd) -> None:
    # "254712..." as some aggregators send it, " 254712..." where a "+" was form-decoded.
    for phone in (sqlite_ussd.amina.phone[1:], " " + sqlite_ussd.amina.phone[1:]):
        assert sqlite_ussd.dial(phone, "").startswith("CON Soko\n")


# --- send money --------------------------------------------------------------------------------


def test_send_money_confirms_recipient_amount_and_fee_then_pays_exactly(ussd: Ussd) -> None:
    before = Snapshot.of(ussd.ctx)
    to = local(ussd.baraka.phone)
    screens = ussd.session(ussd.amina.phone, "2", to, "1500", "1", AMINA_PIN)
    assert screens[2] == "CON Send to Baraka Otieno\nEnter the amount (KES):\n0 Back 00 Menu"
    # The default KES tariff charges 23.00 to send 1,001 to 1,500.
    assert screens[3] == (
        f"CON Send KES 1,500.00 to Baraka Otieno {ussd.baraka.phone}?\nFee KES 23.00\n"
        "1 Confirm\n0 Back 00 Menu"
    )
    assert screens[4].startswith("CON Send KES 1,500.00 to Baraka Otieno\nEnter your PIN:")
    assert screens[5].startswith("END Sent KES 1,500.00 to Baraka Otieno. Fee KES 23.00. Ref ")
    assert balance(ussd.ctx, ussd.amina.id) == 5000_00 - 1500_00 - 23_00
    assert balance(ussd.ctx, ussd.baraka.id) == 1500_00
    assert fees(ussd.ctx) == before.fees + 23_00
    assert reconcile(ussd.ctx).passed
    for screen in screens:
        assert AMINA_PIN not in screen


def test_the_aggregator_resending_the_final_request_pays_once(ussd: Ussd) -> None:
    text = f"2*{local(ussd.baraka.phone)}*100*1*{AMINA_PIN}"
    first = ussd.dial(ussd.amina.phone, text, "ATUid_resent")
    after_first = Snapshot.of(ussd.ctx)
    again = ussd.dial(ussd.amina.phone, text, "ATUid_resent")
    assert again == first and first.startswith("END Sent KES 100.00")
    assert Snapshot.of(ussd.ctx) == after_first
    assert balance(ussd.ctx, ussd.baraka.id) == 100_00
    # The same dialogue in a new session is a new payment, once the caller says so: minutes
    # after the first, it is asked about first (a re-dial after a lost reply looks the same).
    repeat = ussd.dial(ussd.amina.phone, f"2*{local(ussd.baraka.phone)}*100", "ATUid_next")
    assert repeat.startswith("CON You sent KES 100.00 to Baraka Otieno at ")
    assert repeat.endswith("Send again?\n1 Yes, again\n0 Back 00 Menu")
    again = f"2*{local(ussd.baraka.phone)}*100*1*1*{AMINA_PIN}"
    assert ussd.dial(ussd.amina.phone, again, "ATUid_next").startswith("END Sent KES 100.00")
    assert balance(ussd.ctx, ussd.baraka.id) == 200_00


def test_a_wrong_pin_is_refused_counted_and_moves_nothing(ussd: Ussd) -> None:
    before = Snapshot.of(ussd.ctx)
    [*_, last] = ussd.session(ussd.amina.phone, "2", local(ussd.baraka.phone), "100", "1", "9999")
    assert last == "END Wrong PIN. 4 tries left."
    assert "9999" not in last
    assert Snapshot.of(ussd.ctx) == before
    assert balance(ussd.ctx, ussd.amina.id) == 5000_00
    assert users.get_user(ussd.ctx, ussd.amina.id).pin.failures == 1
    for _ in range(4):
        [*_, last] = ussd.session(ussd.amina.phone, "1", "9999")
    assert last == "END Your PIN is locked after too many wrong tries. Wait 15 minutes."
    assert users.get_user(ussd.ctx, ussd.amina.id).pin_locked_at(ussd.clock.now())
    # Each new dial is minutes after the last one (Ussd.new_session): 10 minutes in all.
    dial_apart = limits.USSD_RESUME_SECONDS + 1
    ussd.clock.advance(10 * 60 - dial_apart)
    [*_, last] = ussd.session(ussd.amina.phone, "1", AMINA_PIN)
    assert last == "END Your PIN is locked after too many wrong tries. Wait 5 minutes."
    ussd.clock.advance(5 * 60 - dial_apart)  # the lock times out
    [*_, last] = ussd.session(ussd.amina.phone, "1", AMINA_PIN)
    assert last.startswith("END Your balance")


def test_money_to_an_unregistered_number_says_it_waits_for_them(ussd: Ussd) -> None:
    screens = ussd.session(ussd.amina.phone, "2", "0799000111", "50", "1", AMINA_PIN)
    assert "+254799000111? Not on Soko: it waits 7 days for them." in screens[3]
    assert screens[5].startswith("END Sent KES 50.00 to +254799000111. Fee KES 0.00.")
    # Held for the number (a pending transfer): no longer spendable, not yet paid out.
    assert balance(ussd.ctx, ussd.amina.id) == 5000_00
    assert available(ussd.ctx, ussd.amina.id) == 5000_00 - 50_00


def test_more_than_the_balance_ends_with_a_short_refusal(ussd: Ussd) -> None:
    before = Snapshot.of(ussd.ctx)
    [*_, last] = ussd.session(ussd.amina.phone, "2", local(ussd.baraka.phone), "4990", "1",
                              AMINA_PIN)  # fmt: skip
    assert last == "END Not enough money in your wallet."
    assert Snapshot.of(ussd.ctx) == before


@pytest.mark.parametrize(
    ("amount", "note"),
    [
        ("12.345", "The amount has too many decimal places."),
        ("abc", "Enter the amount in digits, like 1500 or 1500.50."),
        ("1,500", "Enter the amount in digits, like 1500 or 1500.50."),
        ("-5", "Enter an amount above zero."),
        ("0.00", "Enter an amount above zero."),
        ("", "Enter the amount in digits, like 1500 or 1500.50."),
        ("9" * 40, "That amount is too large."),
    ],
)
def test_a_bad_amount_is_asked_again_and_changes_nothing(
    sqlite_ussd: Ussd, amount: str, note: str
) -> None:
    ussd = sqlite_ussd
    before = Snapshot.of(ussd.ctx)
    to = local(ussd.baraka.phone)
    screen = ussd.dial(ussd.amina.phone, f"2*{to}*{amount}")
    assert screen == f"CON {note}\nSend to Baraka Otieno\nEnter the amount (KES):\n0 Back 00 Menu"
    # The next input answers the same screen.
    screen = ussd.dial(ussd.amina.phone, f"2*{to}*{amount}*150")
    assert screen.startswith("CON Send KES 150.00 to Baraka Otieno")
    assert Snapshot.of(ussd.ctx) == before


def test_a_bad_phone_number_or_oneself_is_asked_again(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    screen = ussd.dial(ussd.amina.phone, "2*07abc")
    assert screen.startswith("CON That phone number does not look right.\nSend money\n")
    screen = ussd.dial(ussd.amina.phone, f"2*{local(ussd.amina.phone)}")
    assert screen.startswith("CON You cannot pay yourself.\nSend money\n")


# --- pay a merchant ----------------------------------------------------------------------------


def test_pay_a_till_names_the_merchant_and_pays_it_less_its_rate(ussd: Ussd) -> None:
    till = ussd.kiosk.till_number
    screens = ussd.session(ussd.amina.phone, "3", till, "500", "1", AMINA_PIN)
    assert screens[2].startswith("CON Pay Wanjiru's Kiosk\nEnter the amount (KES):")
    assert screens[3].startswith(f"CON Pay KES 500.00 to Wanjiru's Kiosk, till {till}?\n1 Confirm")
    assert screens[5].startswith("END Paid KES 500.00 to Wanjiru's Kiosk. Ref ")
    assert balance(ussd.ctx, ussd.amina.id) == 5000_00 - 500_00
    # Category 5999 pays 0.5 %: 2.50 of 500.00.
    assert balance(ussd.ctx, ussd.kiosk.user_id) == 500_00 - 2_50
    assert reconcile(ussd.ctx).passed


@pytest.mark.parametrize("till", ["000000", "12ab", "9" * 30])
def test_an_unknown_till_is_asked_again_and_changes_nothing(sqlite_ussd: Ussd, till: str) -> None:
    ussd = sqlite_ussd
    before = Snapshot.of(ussd.ctx)
    screen = ussd.dial(ussd.amina.phone, f"3*{till}")
    note = "No merchant has that till number." if till.isdigit() and len(till) <= 12 else (
        "A till number is digits only.")  # fmt: skip
    assert screen == f"CON {note}\nPay a till\nEnter the till number:\n0 Back 00 Menu"
    assert Snapshot.of(ussd.ctx) == before


# --- my orders: escrow -------------------------------------------------------------------------


def test_the_buyer_pays_an_order_into_escrow_with_the_pin(ussd: Ussd) -> None:
    order = ussd.order("2400.00")
    ref = order.id[-8:]
    screens = ussd.session(ussd.amina.phone, "6", "1", "1", "1", AMINA_PIN)
    assert screens[1] == f"CON My orders\n1 {ref} KES 2,400.00 buy\n0 Back 00 Menu"
    assert screens[2] == (
        f"CON Order {ref} KES 2,400.00\nSack of maize flour, 24 kg\nSeller: Wanjiru's Kiosk\n"
        "State: waiting for payment\n1 Pay into escrow\n0 Back 00 Menu"
    )
    assert screens[3].startswith(f"CON Pay KES 2,400.00 to escrow for {ref} from ")
    assert screens[5].startswith(f"END Paid KES 2,400.00 into escrow for order {ref}.")
    assert escrow.get_order(ussd.ctx, order.id).state is EscrowState.FUNDED
    assert available(ussd.ctx, ussd.amina.id) == 5000_00 - 2400_00
    assert reconcile(ussd.ctx).passed


def test_the_buyer_sees_the_delivery_code_from_the_sms_behind_the_pin(ussd: Ussd) -> None:
    order = ussd.funded()
    ref = order.id[-8:]
    screens = ussd.session(ussd.amina.phone, "6", "1", "1", AMINA_PIN)
    assert "1 Show delivery code\n2 Confirm receipt" in screens[2]
    assert screens[3].startswith(f"CON Delivery code of order {ref}\nEnter your PIN:")
    code = ussd.sms_code(ussd.amina)
    assert screens[4] == (
        f"END Your delivery code for order {ref} is {code}. Give it only when you have the goods."
    )
    [*_, wrong] = ussd.session(ussd.amina.phone, "6", "1", "1", "0000")
    assert wrong == "END Wrong PIN. 4 tries left." and code not in wrong


def test_the_seller_enters_the_code_and_the_order_is_released(ussd: Ussd) -> None:
    order = ussd.funded("2400.00")
    ref = order.id[-8:]
    code = ussd.sms_code(ussd.amina)
    seller = ussd.shop_phone
    screens = ussd.session(seller, "6", "1", "1", code, SHOP_PIN)
    assert screens[1] == f"CON My orders\n1 {ref} KES 2,400.00 sell\n0 Back 00 Menu"
    assert "Buyer: Amina Wanjiku\nState: paid into escrow\n1 Enter delivery code" in screens[2]
    assert screens[3].startswith(f"CON Order {ref} KES 2,400.00\nEnter the buyer's delivery code")
    assert screens[4].startswith(f"CON Release order {ref} with code {code}\nEnter your PIN:")
    # Category 5999 pays 0.5 %: 12.00 of 2,400.00.
    assert screens[5] == (
        f"END Released: order {ref}, KES 2,400.00. You get KES 2,388.00 after fees."
    )
    assert escrow.get_order(ussd.ctx, order.id).state is EscrowState.RELEASED
    assert balance(ussd.ctx, ussd.kiosk.user_id) == 2388_00
    assert balance(ussd.ctx, ussd.amina.id) == 5000_00 - 2400_00
    assert reconcile(ussd.ctx).passed
    # A closed order leaves the list.
    assert ussd.session(seller, "6")[1] == "CON You have no open orders.\n0 Back 00 Menu"


def test_a_wrong_delivery_code_shows_the_tries_left_and_releases_nothing(ussd: Ussd) -> None:
    order = ussd.funded()
    code = ussd.sms_code(ussd.amina)
    wrong = "000000" if code != "000000" else "111111"
    [*_, last] = ussd.session(ussd.shop_phone, "6", "1", "1", wrong, SHOP_PIN)
    assert last == "END Wrong delivery code. 4 tries left."
    assert escrow.get_order(ussd.ctx, order.id).state is EscrowState.FUNDED
    assert balance(ussd.ctx, ussd.kiosk.user_id) == 0
    short = ussd.dial(ussd.shop_phone, "6*1*1*123")
    assert short.startswith("CON A delivery code is 6 digits.\n")


def test_the_buyer_confirms_receipt_with_the_pin(ussd: Ussd) -> None:
    order = ussd.funded("1000.00")
    screens = ussd.session(ussd.amina.phone, "6", "1", "2", "1", AMINA_PIN)
    assert screens[3].startswith("CON Release KES 1,000.00 to Wanjiru's Kiosk for order")
    assert screens[5].startswith("END Released: KES 1,000.00 to Wanjiru's Kiosk for order")
    assert escrow.get_order(ussd.ctx, order.id).state is EscrowState.RELEASED
    assert balance(ussd.ctx, ussd.kiosk.user_id) == 1000_00 - 5_00


def test_my_orders_lists_at_most_five_open_orders_newest_first(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    made = []
    for n in range(7):
        made.append(ussd.order(f"{1_000_000 + n}.00"))
        ussd.clock.advance(1)
    screen = ussd.session(ussd.amina.phone, "6")[1]
    lines = screen.split("\n")
    assert lines[0] == "CON My orders" and lines[-1] == "0 Back 00 Menu"
    shown = lines[1:-2]
    assert 1 <= len(shown) <= limits.USSD_ORDERS_SHOWN_MAX
    assert shown[0] == f"1 {made[6].id[-8:]} KES 1,000,006.00 buy"
    # Long enough to need every character: a note still fits with the list.
    assert lines[-2] == "9 More"
    noted = ussd.dial(ussd.amina.phone, "6*8")
    assert noted.startswith("CON Invalid choice.\nMy orders\n1 ")


def test_the_longest_names_and_amounts_still_fit_with_their_notes(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    ctx = ussd.ctx
    long_name = "Ñyokabi Wambũi-Kamau " * 4  # 84 characters, some outside GSM-7
    rich = consumer(ctx, long_name[:80], funds="400000.00")
    other = consumer(ctx, long_name[:80])
    store = shop(ctx, "5999", name=("Duka la Mama Ñjeri na Watoto " * 3)[:80])
    made = escrow.create_order(
        ctx, seller_id=store.user_id, buyer_id=rich.id, amount=kes("388888.88"),
        items=[OrderItem("Ñ" + "x" * 79, 1)], ship_by=ussd.clock.now() + timedelta(days=3),
        idempotency_key=key(),
    )  # fmt: skip
    to = local(other.phone)
    dialogues = [
        ["2", to, "388888.88", "x"],  # the confirmation with a note
        ["2", "0799000111", "388888.88", "x"],  # to an unregistered number
        ["2", to, "388888.88", "1", "12"],  # the PIN screen with a note
        ["3", store.till_number, "388888.88", "x"],
        ["6", "1", "x"],
        ["6", "1", "1", "x"],
    ]
    for inputs in dialogues:
        screen = ussd.dial(rich.phone, "*".join(inputs))
        assert screen.startswith("CON ") and "\n" in screen, screen
        # The note is there: the screen did not have to drop it.
        assert screen.split("\n")[0] in {
            "CON Enter 1 to confirm.",
            "CON Invalid choice.",
            "CON A PIN is 4 to 6 digits.",
        }, screen
    assert ussd.dial(rich.phone, "6*1").startswith(f"CON Order {made.id[-8:]} KES 388,888.88\n")


# --- navigation --------------------------------------------------------------------------------


def test_back_and_main_menu_from_anywhere(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    main = ussd.dial(ussd.amina.phone, "")
    to = local(ussd.baraka.phone)
    assert ussd.dial(ussd.amina.phone, "2*0") == main
    assert ussd.dial(ussd.amina.phone, f"2*{to}*00") == main
    assert ussd.dial(ussd.amina.phone, f"2*{to}*0") == ussd.dial(ussd.amina.phone, "2")
    # Back, then on along another branch.
    assert ussd.dial(ussd.amina.phone, f"2*{to}*0*0*1").startswith("CON My balance")


@pytest.mark.parametrize("choice", ["9", "x", "*", "10", "0", "1*2"])
def test_an_invalid_choice_shows_the_same_menu_with_a_note(sqlite_ussd: Ussd, choice: str) -> None:
    ussd = sqlite_ussd
    screen = ussd.dial(ussd.amina.phone, choice)
    if choice == "1*2":
        assert screen.startswith("CON A PIN is 4 to 6 digits.\nMy balance\nEnter your PIN:")
        return
    assert screen == f"CON Invalid choice.\n{MAIN[4:]}"


def test_inputs_after_a_pin_end_the_session_without_doing_anything(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    before = Snapshot.of(ussd.ctx)
    text = f"2*{local(ussd.baraka.phone)}*100*1*{AMINA_PIN}*1"
    assert ussd.dial(ussd.amina.phone, text) == f"END {menus.SESSION_OVER}"
    assert Snapshot.of(ussd.ctx) == before


def test_a_too_long_session_ends_politely_and_changes_nothing(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    before = Snapshot.of(ussd.ctx)
    assert ussd.dial(ussd.amina.phone, "1" * 600) == f"END {menus.TOO_LONG}"
    assert ussd.dial(ussd.amina.phone, "*".join(["9"] * 40)) == f"END {menus.TOO_LONG}"
    assert Snapshot.of(ussd.ctx) == before


def test_an_unexpected_failure_answers_unavailable_and_is_logged(
    sqlite_ussd: Ussd, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> Money:
        raise RuntimeError("the fee table caught fire")

    monkeypatch.setattr(payments, "p2p_fee", broken)
    with caplog.at_level(logging.ERROR, logger="soko.channels.ussd.menus"):
        screen = sqlite_ussd.dial(sqlite_ussd.amina.phone, f"2*{local(sqlite_ussd.baraka.phone)}*5")
    assert screen == "END Soko is unavailable. Please try again later."
    assert "fire" not in screen
    assert any("the fee table caught fire" in (r.exc_text or "") for r in caplog.records)


# --- the aggregator's credentials --------------------------------------------------------------


def test_the_aggregator_must_present_the_token(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    phone = ussd.amina.phone
    assert ussd.post(phone, "", headers={})[0] == 401
    assert ussd.post(phone, "", headers={"Authorization": "Bearer nope"})[0] == 403
    assert ussd.post(phone, "", headers={"Authorization": f"Basic {TOKEN}"})[0] == 401
    assert ussd.post(phone, "", headers={}, params={"token": "nope"})[0] == 403
    assert ussd.post(phone, "", headers={}, params={"token": "ünïcode"})[0] == 403
    status, body = ussd.post(phone, "", headers={}, params={"token": TOKEN})
    assert status == 200 and body.startswith("CON Soko")
    # A refused request moves nothing, even with a whole dialogue in it.
    before = Snapshot.of(ussd.ctx)
    text = f"2*{local(ussd.baraka.phone)}*100*1*{AMINA_PIN}"
    assert ussd.post(phone, text, headers={"Authorization": "Bearer nope"})[0] == 403
    assert Snapshot.of(ussd.ctx) == before


def test_without_a_configured_token_there_is_no_ussd_endpoint(runtime: Runtime) -> None:
    with TestClient(create_app(with_token(runtime, None))) as client:
        response = client.post(
            "/ussd",
            data={"sessionId": "s", "serviceCode": "*483#", "phoneNumber": "+254712100200"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 404
        assert "/ussd" not in client.get("/openapi.json").json()["paths"]


def test_malformed_requests_are_refused(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    headers = {"Authorization": f"Bearer {TOKEN}"}
    missing = ussd.client.post("/ussd", data={"sessionId": "s"}, headers=headers)
    assert missing.status_code == 400
    spaced = ussd.post(ussd.amina.phone, "", session="has space")
    assert spaced[0] == 400


# --- any history at all ------------------------------------------------------------------------

#: Inputs a person might type: menu choices, navigation, PINs right and wrong, amounts good and
#: bad, numbers, codes, references, rubbish. `{baraka}`, `{agent}`, `{till}` and `{code}` are
#: filled in per world.
INPUTS = st.sampled_from([
    "", "0", "00", "1", "2", "3", "4", "5", "6", "7", "8", "9", "x", AMINA_PIN, SHOP_PIN,
    AGENT_PIN, "0000", "12", "12.345", "1500", "0.50", "-3", "99999999", "{baraka}", "{agent}",
    "0722", "{till}", "{code}", "R1", "123456", "*", "ñ€", " 1 ", "1" * 40,
])  # fmt: skip


def test_any_history_gets_a_well_formed_screen_and_the_books_balance(ussd: Ussd) -> None:
    ussd.order("700.00")
    ussd.funded("300.00")
    payment_requests.create_request(
        ussd.ctx, merchant_id=ussd.kiosk.user_id, amount=kes("75.00"), reference="R1",
        idempotency_key=key(),
    )  # fmt: skip
    values = {"baraka": local(ussd.baraka.phone), "till": ussd.kiosk.till_number,
              "agent": local(ussd.agent.phone), "code": ussd.sms_code(ussd.amina)}  # fmt: skip
    people = {"consumer": ussd.amina, "merchant": users.get_user(ussd.ctx, ussd.kiosk.user_id),
              "agent": ussd.agent}  # fmt: skip
    sessions = itertools.count()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        history=st.lists(INPUTS, max_size=8),
        who=st.sampled_from(sorted(people)),
        language=st.sampled_from(i18n.LANGUAGES),
        resent=st.booleans(),
    )
    def dialogue(history: list[str], who: str, language: str, resent: bool) -> None:
        # A locked PIN would end every later dialogue at once: start each one unlocked. The
        # clock stands still, so a dialogue that stops on a CON screen is offered for resuming
        # to the next one of the same person: resuming is explored too.
        for person in people.values():
            users.unlock_pin(ussd.ctx, person.id)
        person = people[who]
        users.set_language(ussd.ctx, person.id, language)
        inputs = [entry.format(**values) for entry in history]
        session = f"ATUid_prop_{next(sessions)}"
        for n in range(len(inputs) + 1):
            text = "*".join(inputs[:n])
            status, body = ussd.post(person.phone, text, session)
            assert status == 200, body
            check_screen(body)
            assert "unavailable" not in body and "haipatikani" not in body, (text, body)
            if body.startswith("END "):
                if resent:
                    before = Snapshot.of(ussd.ctx)
                    assert ussd.post(person.phone, text, session) == (200, body)
                    assert Snapshot.of(ussd.ctx) == before
                break

    dialogue()
    assert reconcile(ussd.ctx).passed
