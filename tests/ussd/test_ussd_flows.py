"""USSD dialogues for the flows beyond send, till and escrow: withdrawing at an agent, paying a
request by reference, the agent's and the merchant's menus, loans, paging, the statement, PIN
and language; and the session: a resent final request, a re-dial that repeats a payment, a
dropped dial resumed. In English and Kiswahili, on both databases."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest

from credit_world import funded_lender, trading_shop
from merchants import Snapshot, balance, kes, key
from soko.channels import i18n
from soko.context import UnitOfWork
from soko.credit import service as credit
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState
from soko.kernel import limits
from soko.kernel.errors import SessionInvalid
from soko.kernel.transactions import in_transaction
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.people import access
from soko.people import service as users
from soko.people.domain import PinState, UserKind
from ussd_world import AGENT_PIN, AMINA_PIN, MAIN, SHOP_PIN, Ussd, local

SW_MAIN = (
    "CON Soko\n1 Salio langu\n2 Tuma pesa\n3 Lipa till\n4 Lipa kwa kumbukumbu\n5 Toa pesa\n"
    "6 Oda zangu\n7 Taarifa fupi\n8 Akaunti yangu"
)


def swahili(ussd: Ussd) -> None:
    users.set_language(ussd.ctx, ussd.amina.id, "sw")


# --- withdraw cash at an agent -------------------------------------------------------------------


def test_withdraw_cash_names_the_agent_and_the_fee_then_pays_the_float(ussd: Ussd) -> None:
    agent = local(ussd.agent.phone)
    float_before = balance(ussd.ctx, ussd.agent.id)
    screens = ussd.session(ussd.amina.phone, "5", agent, "1000", "1", AMINA_PIN)
    assert screens[1] == "CON Withdraw cash\nEnter the agent number:\n0 Back 00 Menu"
    assert screens[2].startswith("CON Withdraw at Juma Agent\nEnter the amount (KES):")
    assert screens[3].startswith(
        f"CON Withdraw KES 1,000.00 at agent Juma Agent {ussd.agent.phone}?\nFee KES "
    )
    assert screens[4].startswith("CON Withdraw KES 1,000.00 at Juma Agent\nEnter your PIN:")
    assert screens[5].startswith("END Take KES 1,000.00 in cash from Juma Agent. Fee KES ")
    fee = 5000_00 - 1000_00 - balance(ussd.ctx, ussd.amina.id)
    assert fee > 0 and f"Fee {i18n.format_money(kes('0.01'), 'en')[:4]}" in screens[5]
    assert balance(ussd.ctx, ussd.agent.id) > float_before + 1000_00 - 1  # float + commission
    assert reconcile(ussd.ctx).passed


def test_withdraw_refuses_a_number_that_is_no_agent_and_a_wrong_pin(ussd: Ussd) -> None:
    before = Snapshot.of(ussd.ctx)
    screen = ussd.dial(ussd.amina.phone, f"5*{local(ussd.baraka.phone)}")
    assert screen.startswith("CON No Soko agent has that number.\nWithdraw cash\n")
    [*_, last] = ussd.session(ussd.amina.phone, "5", local(ussd.agent.phone), "100", "1", "9999")
    assert last == "END Wrong PIN. 4 tries left."
    assert Snapshot.of(ussd.ctx) == before


# --- pay a request by till number and reference --------------------------------------------------


def test_pay_by_reference_shows_the_request_and_pays_it_once(ussd: Ussd) -> None:
    payment_requests.create_request(
        ussd.ctx, merchant_id=ussd.kiosk.user_id, amount=kes("750.00"), reference="INV-77",
        idempotency_key=key(),
    )  # fmt: skip
    till = ussd.kiosk.till_number
    session = ussd.new_session()
    texts = ["4", f"4*{till}", f"4*{till}*INV-77", f"4*{till}*INV-77*1"]
    screens = [ussd.dial(ussd.amina.phone, text, session) for text in texts]
    assert screens[1] == "CON Pay Wanjiru's Kiosk\nEnter the reference:\n0 Back 00 Menu"
    assert screens[2].startswith("CON Pay KES 750.00 to Wanjiru's Kiosk for INV-77?\n1 Confirm")
    final = f"4*{till}*INV-77*1*{AMINA_PIN}"
    paid = ussd.dial(ussd.amina.phone, final, session)
    assert paid.startswith("END Paid KES 750.00 to Wanjiru's Kiosk for INV-77. Ref ")
    # The aggregator resends: the same screen, though the request is now paid.
    assert ussd.dial(ussd.amina.phone, final, session) == paid
    assert balance(ussd.ctx, ussd.amina.id) == 5000_00 - 750_00
    again = ussd.session(ussd.amina.phone, "4", till, "INV-77")[3]
    assert again.startswith("CON This request is paid already.\nPay Wanjiru's Kiosk\n")
    unknown = ussd.session(ussd.amina.phone, "4", till, "NOPE")[3]
    assert unknown.startswith("CON That till has no request with this reference.\n")


# --- the agent's menu ----------------------------------------------------------------------------


def test_the_agent_cashes_in_sees_the_float_and_the_commissions(ussd: Ussd) -> None:
    agent = ussd.agent.phone
    menu = ussd.dial(agent, "", ussd.new_session())
    assert menu == (
        "CON Soko Agent\n1 Float balance\n2 Cash in\n3 Commissions\n4 Mini-statement\n5 My account"
    )
    screens = ussd.session(agent, "2", local(ussd.baraka.phone), "2000", "1", AGENT_PIN)
    assert screens[3].startswith(
        f"CON Give Baraka Otieno {ussd.baraka.phone} KES 2,000.00 from your float?\n1 Confirm"
    )
    assert screens[5].startswith("END Baraka Otieno got KES 2,000.00. You earned KES ")
    assert balance(ussd.ctx, ussd.baraka.id) == 2000_00
    [*_, float_screen] = ussd.session(agent, "1", AGENT_PIN)
    assert float_screen.startswith("END Your balance:\nKES 98,")
    [*_, earned] = ussd.session(agent, "3", AGENT_PIN)
    assert earned.startswith("END Commissions earned today: KES ")
    assert "This month: KES " in earned and "KES 0.00" not in earned
    assert reconcile(ussd.ctx).passed


# --- the merchant's menu: sales, payments, loans -------------------------------------------------


def test_the_merchant_sees_todays_sales_and_last_payments(ussd: Ussd) -> None:
    shop = ussd.shop_phone
    assert ussd.dial(shop, "", ussd.new_session()).endswith("8 My account\n9 My shop")
    for amount in ("100", "250.50"):
        ussd.session(ussd.amina.phone, "3", ussd.kiosk.till_number, amount, "1", AMINA_PIN)
    screens = ussd.session(shop, "9", "1", SHOP_PIN)
    assert screens[1] == (
        "CON My shop\n1 Today's sales\n2 Last payments\n3 My loan\n0 Back 00 Menu"
    )
    assert screens[3] == "END Today's sales: 2 payments, KES 350.50."
    [*_, last] = ussd.session(shop, "9", "2", SHOP_PIN)
    lines = last.split("\n")
    assert lines[0] == "END Last payments:"
    assert lines[1].endswith(" KES 250.50 Amina Wanjiku") and lines[2].endswith(
        "KES 100.00 Amina Wanjiku"
    )


def test_a_merchant_without_history_is_told_why_there_is_no_loan(ussd: Ussd) -> None:
    screen = ussd.session(ussd.shop_phone, "9", "3")[2]
    assert screen.startswith("CON No loan offer now.\n")
    assert "1 " not in screen.split("\n", 1)[1]
    assert "You have sold with Soko too short a time." in screen
    shop = users.find_by_phone(ussd.ctx, ussd.shop_phone)
    users.set_language(ussd.ctx, shop.id, "sw")
    swahili = ussd.session(ussd.shop_phone, "9", "3")[2]
    assert swahili.startswith("CON Hakuna ofa ya mkopo sasa.\nUmeuza na Soko kwa muda mfupi mno.")


def test_a_merchant_borrows_sees_what_it_owes_and_repays(ussd: Ussd) -> None:
    trader = trading_shop(ussd.ctx, ussd.clock, tenure_days=100)
    funded_lender(ussd.ctx)
    users.set_pin(ussd.ctx, trader.merchant.user_id, SHOP_PIN)
    shop = users.get_user(ussd.ctx, trader.merchant.user_id).phone
    offer_screen = ussd.session(shop, "9", "3")[2]
    assert offer_screen.startswith("CON Loan offer\nUp to KES ")
    assert "1 Borrow\n2 Why this offer\n0 Back 00 Menu" in offer_screen
    why = ussd.session(shop, "9", "3", "2")[3]
    assert why.startswith("CON Why this offer:\n")
    # The score's factors, in the credit feature's own sentences: the facts of this shop.
    first_factor = credit.credit_offers(ussd.ctx, trader.merchant.user_id).reasons[0]
    assert why.split("\n")[1] == first_factor.text
    screens = ussd.session(shop, "9", "3", "1", "1000", "1", SHOP_PIN)
    assert screens[4].startswith("CON Borrow KES 1,000.00? Fee KES ")
    assert screens[6].startswith("END KES 1,000.00 is in your wallet. You repay KES ")
    loan_id = users.get_merchant(ussd.ctx, trader.merchant.user_id).open_loan_id
    assert loan_id is not None
    owed = credit.get_loan(ussd.ctx, loan_id).outstanding_minor
    menu = ussd.session(shop, "9", "3")[2]
    assert menu.startswith("CON My loan: KES ") and "1 Balance owed\n2 Repay" in menu
    [*_, owed_screen] = ussd.session(shop, "9", "3", "1", SHOP_PIN)
    assert owed_screen.startswith("END You owe KES ")
    [*_, repaid] = ussd.session(shop, "9", "3", "2", "300", "1", SHOP_PIN)
    assert repaid.startswith("END Repaid KES 300.00. Still owed: KES ")
    assert credit.get_loan(ussd.ctx, loan_id).outstanding_minor == owed - 300_00
    too_much = ussd.session(shop, "9", "3", "2", "99999999")[4]
    assert too_much.startswith("CON That is more than your loan still owes.\n")
    assert reconcile(ussd.ctx).passed


# --- my orders, a page at a time -----------------------------------------------------------------


def test_more_pages_through_every_open_order(sqlite_ussd: Ussd) -> None:
    ussd = sqlite_ussd
    made = []
    for n in range(12):
        made.append(ussd.order(f"{100 + n}.00"))
        ussd.clock.advance(1)
    pages: list[list[str]] = []
    inputs = ["6"]
    while True:
        screen = ussd.session(ussd.amina.phone, *inputs)[-1]
        lines = screen.split("\n")[1:-1]
        listed = [line for line in lines if line[0].isdigit() and not line.startswith("9 More")]
        pages.append([line.split(" ")[1] for line in listed])
        if lines[-1] != "9 More":
            break
        inputs.append("9")
    seen = [ref for page in pages for ref in page]
    # Every open order is listed, newest first, none twice.
    assert seen == [order.id[-8:] for order in reversed(made)]
    # An order on the second page opens.
    second = ussd.session(ussd.amina.phone, "6", "9", "1")[3]
    assert len(pages) > 2 and second.startswith(f"CON Order {pages[1][0]} ")
    # Back from page two is page one.
    assert (
        ussd.session(ussd.amina.phone, "6", "9", "0")[3] == ussd.session(ussd.amina.phone, "6")[1]
    )


# --- mini-statement, PIN, language ---------------------------------------------------------------


def test_the_mini_statement_shows_the_last_five_movements(ussd: Ussd) -> None:
    for amount in ("10", "20", "30"):
        ussd.session(ussd.amina.phone, "3", ussd.kiosk.till_number, amount, "1", AMINA_PIN)
    [*_, statement] = ussd.session(ussd.amina.phone, "7", AMINA_PIN)
    lines = statement.split("\n")
    assert lines[0] == "END Last 4, KES:"
    assert lines[1].endswith(" -30.00 Payment") and lines[4].endswith(" 5,000.00 Deposit")
    assert lines[-1] == "Balance KES 4,940.00"


def test_changing_the_pin_checks_the_old_one_and_the_new_one_twice(ussd: Ussd) -> None:
    before = Snapshot.of(ussd.ctx)
    screens = ussd.session(ussd.amina.phone, "8", "1", AMINA_PIN, "1111", "2222")
    assert screens[2] == "CON Change PIN\nEnter your PIN:\n0 Back 00 Menu"
    assert screens[4] == "CON Change PIN\nEnter the new PIN again:\n0 Back 00 Menu"
    assert screens[5].startswith("CON The two new PINs differ.\nChange PIN\n")
    [*_, wrong] = ussd.session(ussd.amina.phone, "8", "1", "9999", "1111", "1111")
    assert wrong == "END Wrong PIN. 4 tries left."
    session = ussd.new_session()
    final = f"8*1*{AMINA_PIN}*1111*1111"
    done = ussd.dial(ussd.amina.phone, final, session)
    assert done == "END Your PIN is changed. Keep it secret."
    # Resent: the same screen, though the old PIN is no longer the PIN.
    assert ussd.dial(ussd.amina.phone, final, session) == done
    [*_, balance_screen] = ussd.session(ussd.amina.phone, "1", "1111")
    assert balance_screen.startswith("END Your balance:")
    assert Snapshot.of(ussd.ctx) == before


def test_choosing_kiswahili_speaks_kiswahili_from_then_on(ussd: Ussd) -> None:
    screens = ussd.session(ussd.amina.phone, "8", "2", "2")
    assert screens[2] == "CON Language\n1 English\n2 Kiswahili\n0 Back 00 Menu"
    assert screens[3] == "END Soko itakuhudumia kwa Kiswahili sasa."
    assert users.get_user(ussd.ctx, ussd.amina.id).language == "sw"
    assert ussd.dial(ussd.amina.phone, "", ussd.new_session()) == SW_MAIN
    [*_, back] = ussd.session(ussd.amina.phone, "8", "2", "1")
    assert back == "END Soko speaks English to you now."


def test_a_whole_payment_in_kiswahili_with_its_refusals(ussd: Ussd) -> None:
    swahili(ussd)
    to = local(ussd.baraka.phone)
    screens = ussd.session(ussd.amina.phone, "2", to, "1500", "1", AMINA_PIN)
    assert screens[2] == "CON Tuma kwa Baraka Otieno\nWeka kiasi (KES):\n0 Rudi 00 Menyu"
    assert screens[3] == (
        f"CON Tuma KES 1,500.00 kwa Baraka Otieno {ussd.baraka.phone}?\nAda KES 23.00\n"
        "1 Thibitisha\n0 Rudi 00 Menyu"
    )
    assert screens[5].startswith("END Umetuma KES 1,500.00 kwa Baraka Otieno. Ada KES 23.00.")
    bad = ussd.dial(ussd.amina.phone, f"2*{to}*12.345", ussd.new_session())
    assert bad.startswith("CON Kiasi kina desimali nyingi mno.\nTuma kwa Baraka Otieno")
    [*_, wrong] = ussd.session(ussd.amina.phone, "1", "9999")
    assert wrong == "END PIN si sahihi. Zimebaki nafasi 4."


def test_a_tanzanian_number_defaults_to_kiswahili(ussd: Ussd) -> None:
    tz = users.register(ussd.ctx, kind=UserKind.CONSUMER, phone="+255712345678",
                        name="Neema Mushi", pin=AMINA_PIN)  # fmt: skip
    assert ussd.dial(tz.phone, "", ussd.new_session()).startswith("CON Soko\n1 Salio langu\n")
    assert i18n.default_language("KE") == "en" and i18n.default_language("UG") == "en"
    assert ussd.dial("+255799999999", "") == (
        "END Nambari hii haina akaunti ya Soko. Tembelea wakala wa Soko ili ujisajili."
    )


# --- the session: resent, re-dialled, resumed ----------------------------------------------------


def test_a_resent_final_request_gets_the_same_screen_for_escrow_too(ussd: Ussd) -> None:
    order = ussd.funded("1000.00")
    session = ussd.new_session()
    final = f"6*1*2*1*{AMINA_PIN}"
    for text in ("", "6", "6*1", "6*1*2", "6*1*2*1"):
        ussd.dial(ussd.amina.phone, text, session)
    released = ussd.dial(ussd.amina.phone, final, session)
    assert released.startswith("END Released: KES 1,000.00 to Wanjiru's Kiosk for order")
    assert escrow.get_order(ussd.ctx, order.id).state is EscrowState.RELEASED
    after = Snapshot.of(ussd.ctx)
    # The order is closed and gone from the list, yet a resend gets the same answer.
    assert ussd.dial(ussd.amina.phone, final, session) == released
    assert Snapshot.of(ussd.ctx) == after
    # Anything typed after an END screen ends the session without doing anything.
    assert ussd.dial(ussd.amina.phone, f"{final}*1", session).startswith("END This session")


def test_a_redial_that_repeats_a_payment_needs_an_explicit_yes(ussd: Ussd) -> None:
    till = ussd.kiosk.till_number
    [*_, paid] = ussd.session(ussd.amina.phone, "3", till, "500", "1", AMINA_PIN)
    assert paid.startswith("END Paid KES 500.00")
    # The reply was lost; Amina dials again a minute later and types the same.
    ussd.clock.advance(60)
    session = "ATUid_redial"
    repeat = ussd.dial(ussd.amina.phone, f"3*{till}*500", session)
    at = (ussd.clock.now() - timedelta(seconds=60)).astimezone(ussd.ctx.timezone)
    assert repeat == (
        f"CON You sent KES 500.00 to Wanjiru's Kiosk at {at:%H:%M}. Send again?\n"
        "1 Yes, again\n0 Back 00 Menu"
    )
    assert ussd.dial(ussd.amina.phone, f"3*{till}*500*2", session).startswith(
        "CON Enter 1 to send again or 0 to go back.\n"
    )
    assert ussd.dial(ussd.amina.phone, f"3*{till}*500*0", session).startswith(
        "CON Pay Wanjiru's Kiosk\nEnter the amount"
    )
    assert balance(ussd.ctx, ussd.amina.id) == 5000_00 - 500_00
    # Another amount, or minutes later, is not asked about.
    assert ussd.dial(ussd.amina.phone, f"3*{till}*501", "s2").startswith("CON Pay KES 501.00")
    ussd.clock.advance(limits.USSD_REPEAT_SECONDS)
    assert ussd.dial(ussd.amina.phone, f"3*{till}*500", "s3").startswith("CON Pay KES 500.00")


def test_a_dropped_dial_resumes_without_retyping_and_never_pays_twice(ussd: Ussd) -> None:
    to = local(ussd.baraka.phone)
    first = "ATUid_dropped"
    for text in ("", "2", f"2*{to}", f"2*{to}*150"):
        ussd.dial(ussd.amina.phone, text, first)
    # The call drops at the confirmation; Amina dials again within the minute.
    ussd.clock.advance(40)
    second = "ATUid_resumed"
    offer = ussd.dial(ussd.amina.phone, "", second)
    assert offer == (
        "CON Continue where you stopped?\nSend KES 150.00 to Baraka Otieno +254"
        f"{ussd.baraka.phone[4:]}?\n1 Continue\n2 Main menu"
    )
    confirm = ussd.dial(ussd.amina.phone, "1", second)
    assert confirm.startswith("CON Send KES 150.00 to Baraka Otieno")
    sent = ussd.dial(ussd.amina.phone, f"1*1*{AMINA_PIN}", second)
    assert sent.startswith("END Sent KES 150.00 to Baraka Otieno.")
    assert ussd.dial(ussd.amina.phone, f"1*1*{AMINA_PIN}", second) == sent
    assert balance(ussd.ctx, ussd.baraka.id) == 150_00
    # Done: the next dial opens at the main menu.
    assert ussd.dial(ussd.amina.phone, "", "ATUid_after") == MAIN


def test_a_resumed_dial_keeps_the_first_dials_keys(ussd: Ussd) -> None:
    """Had the first dial's payment gone through without its END being kept, finishing the
    resumed one replays that payment: its key is the first dial's."""
    to = local(ussd.baraka.phone)
    first = "ATUid_one"
    ussd.dial(ussd.amina.phone, f"2*{to}*150*1", first)
    paid = ussd.dial(ussd.amina.phone, f"2*{to}*150*1*{AMINA_PIN}", first)
    # Forget the END, as if the process had died right after the payment.
    kept = access.ussd_session(ussd.ctx, first)
    assert kept is not None and kept.result == paid[4:]
    access.save_ussd_session(ussd.ctx, replace(kept, result=None, result_inputs=None))
    offer = ussd.dial(ussd.amina.phone, "", "ATUid_two")
    assert offer.startswith("CON Continue where you stopped?")
    # The resumed dial meets the payment it already made: asked first, then the same result.
    again = ussd.dial(ussd.amina.phone, f"1*1*{AMINA_PIN}", "ATUid_two")
    assert again.split("Ref ")[1] == paid.split("Ref ")[1]
    assert balance(ussd.ctx, ussd.baraka.id) == 150_00


def test_declining_to_resume_starts_afresh_and_no_pin_is_kept(ussd: Ussd) -> None:
    ussd.dial(ussd.amina.phone, f"8*1*{AMINA_PIN}", "ATUid_pin")
    offer = ussd.dial(ussd.amina.phone, "", "ATUid_fresh")
    assert offer.startswith("CON Continue where you stopped?\nChange PIN\n")
    assert ussd.dial(ussd.amina.phone, "2", "ATUid_fresh") == MAIN
    assert ussd.dial(ussd.amina.phone, "2*1", "ATUid_fresh").startswith("CON My balance")
    kept = [access.ussd_session(ussd.ctx, sid) for sid in ("ATUid_pin", "ATUid_fresh")]
    assert all(k is not None and AMINA_PIN not in k.path for k in kept)
    assert kept[0] is not None and kept[0].path == "8*1"


# --- every screen that can be reached fits, in every language ------------------------------------

#: What to type on each kind of screen while crawling: options, and one good value each.
CRAWL_DEPTH = 6


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("who", ["consumer", "merchant", "agent"])
def test_every_reachable_screen_fits_in_every_language(
    sqlite_ussd: Ussd, language: str, who: str
) -> None:
    ussd = sqlite_ussd
    ussd.funded("300.00")
    ussd.order("700.00")
    payment_requests.create_request(
        ussd.ctx, merchant_id=ussd.kiosk.user_id, amount=kes("75.00"), reference="R1",
        idempotency_key=key(),
    )  # fmt: skip
    user = {"consumer": ussd.amina, "agent": ussd.agent}.get(who) or users.get_user(
        ussd.ctx, ussd.kiosk.user_id
    )
    users.set_language(ussd.ctx, user.id, language)
    values = ["1", "2", "3", "4", "5", "6", "7", "8", "9", local(ussd.agent.phone),
              local(ussd.baraka.phone), ussd.kiosk.till_number, "R1", "100"]  # fmt: skip
    frontier: list[list[str]] = [[]]
    seen: set[str] = set()
    dials = itertools.count()
    for _ in range(CRAWL_DEPTH):
        following = []
        for path in frontier:
            session = f"ATUid_crawl_{next(dials)}"
            screen = ussd.dial(user.phone, "*".join(path), session)  # checks the size
            if screen.startswith("END ") or screen in seen:
                continue
            seen.add(screen)
            following += [[*path, value] for value in values]
        frontier = following[:120]
    assert len(seen) > 15


def test_a_new_consumer_is_offered_the_languages_of_the_country() -> None:
    assert i18n.languages_for("TZ")[0] == "sw"
    assert set(i18n.languages_for("KE")) >= {"en", "sw"}
    assert i18n.language_for("xx", "TZ") == "sw" and i18n.language_for("en", "TZ") == "en"
    rich = kes("1234567.50")
    assert i18n.format_money(rich, "sw", "TZ") == "KES 1,234,567.50"


# --- PIN locks that time out, tries in flight, sessions that end (ADR 0019) ---------------------


def test_a_lock_says_how_long_in_kiswahili_times_out_and_ends_the_sessions(ussd: Ussd) -> None:
    swahili(ussd)
    signed_in = access.sign_in(ussd.ctx, phone=ussd.amina.phone, pin=AMINA_PIN)
    wrong = [ussd.session(ussd.amina.phone, "1", "9999")[-1] for _ in range(5)]
    assert wrong[0] == "END PIN si sahihi. Zimebaki nafasi 4."
    assert wrong[3] == "END PIN si sahihi. Imebaki nafasi 1."
    assert wrong[4] == "END PIN yako imefungwa baada ya makosa mengi. Subiri dakika 15."
    # A lock ends every session of the person, the web app's and the API's.
    with pytest.raises(SessionInvalid):
        access.authenticate_session(ussd.ctx, signed_in.token)
    # Even the right PIN is refused until the lock times out; then it is the PIN again.
    [*_, locked] = ussd.session(ussd.amina.phone, "1", AMINA_PIN)
    assert locked.startswith("END PIN yako imefungwa baada ya makosa mengi. Subiri dakika ")
    ussd.clock.advance(15 * 60)
    # The next lock in a row, with no right PIN between, lasts an hour.
    [*_, second] = [ussd.session(ussd.amina.phone, "1", "9999")[-1] for _ in range(5)]
    assert second == "END PIN yako imefungwa baada ya makosa mengi. Subiri saa 1."
    ussd.clock.advance(3600)
    [*_, open_again] = ussd.session(ussd.amina.phone, "1", AMINA_PIN)
    assert open_again.startswith("END Salio lako:")
    # The right PIN ended the series: the next lock is a short one again.
    [*_, third] = [ussd.session(ussd.amina.phone, "1", "9999")[-1] for _ in range(5)]
    assert third == "END PIN yako imefungwa baada ya makosa mengi. Subiri dakika 15."
    users.set_language(ussd.ctx, ussd.amina.id, "en")
    [*_, english] = ussd.session(ussd.amina.phone, "1", AMINA_PIN)
    assert english.startswith("END Your PIN is locked after too many wrong tries. Wait ")


@pytest.mark.parametrize(
    ("language", "busy"),
    [
        ("en", "END Your PIN is being checked already. Please try again."),
        ("sw", "END PIN yako inakaguliwa tayari. Tafadhali jaribu tena."),
    ],
)
def test_tries_in_flight_make_a_pin_busy_not_locked(ussd: Ussd, language: str, busy: str) -> None:
    users.set_language(ussd.ctx, ussd.amina.id, language)
    now = ussd.clock.now()
    in_flight = PinState(checking=limits.PIN_ATTEMPTS_MAX, checking_until=now + timedelta(hours=1))

    def hold(uow: UnitOfWork) -> None:
        uow.people.update_user(replace(users.get_user(ussd.ctx, ussd.amina.id), pin=in_flight))

    in_transaction(ussd.ctx, hold)
    before = Snapshot.of(ussd.ctx)
    [*_, screen] = ussd.session(ussd.amina.phone, "2", local(ussd.baraka.phone), "100", "1",
                                AMINA_PIN)  # fmt: skip
    assert screen == busy
    assert Snapshot.of(ussd.ctx) == before
    assert not users.get_user(ussd.ctx, ussd.amina.id).pin_locked_at(ussd.clock.now())


def test_a_pin_changed_on_ussd_ends_the_sessions(ussd: Ussd) -> None:
    signed_in = access.sign_in(ussd.ctx, phone=ussd.amina.phone, pin=AMINA_PIN)
    [*_, done] = ussd.session(ussd.amina.phone, "8", "1", AMINA_PIN, "1111", "1111")
    assert done == "END Your PIN is changed. Keep it secret."
    with pytest.raises(SessionInvalid):
        access.authenticate_session(ussd.ctx, signed_in.token)
