"""USSD dialogues: the menu tree, replayed from the session's input history.

The aggregator sends every input of a session so far (`text`, joined by "*"). `respond` walks
the tree from the main menu through those inputs and answers the screen the last one leads to:

- an input a screen does not accept leaves the dialogue where it was, and that screen is shown
  again with a short note (the next input answers the same screen);
- "0" goes back one screen and "00" to the main menu, from anywhere; "9" shows more of a list;
- a PIN is the last input of any dialogue that moves money or shows a secret: it is checked
  (wrong ones count towards the lockout) and the use case runs, only when the PIN is the very
  last input, so replaying a history never repeats an effect. Its answer is an END screen;
- every money movement is idempotent with the key `ussd:<session id>:<step>`, where the step is a
  hash of the accepted inputs that led to the PIN (never the PIN itself), and the session id is
  that of the dial the dialogue started in (a resumed one goes on with its keys).

Where a dial got to is kept (`people.access`, table ussd_sessions), for two things:

- a resent final request (the aggregator timed out) gets the END screen the first one got, for
  every flow, whatever the effect changed since (an order released, a PIN changed);
- a dial dropped mid-flow can be resumed by dialling again within
  `limits.USSD_RESUME_SECONDS`: the inputs up to the first secret one are taken over, never a PIN.

Screens fit what every network shows: at most 160 GSM-7 characters, "CON " or "END " included,
in every language (channels/i18n.py, chosen per person).
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Literal

from soko.channels import i18n
from soko.channels.ussd.messages import screen_for
from soko.context import Context
from soko.credit import service as credit
from soko.credit.domain import Loan, LoanStatus, Reason, StoredOffer, bps_percent, flat_fee
from soko.credit.errors import OfferExpired
from soko.deposits import domain as deposits_domain
from soko.deposits import service as deposits
from soko.deposits.domain import DepositState
from soko.escrow import service as escrow
from soko.escrow.domain import CLOSED, EscrowOrder, EscrowState
from soko.escrow.errors import EscrowNotFound
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, DomainError, InvalidInput
from soko.kernel.i18n import N_
from soko.kernel.money import Currency, Money
from soko.notify.sms import GSM7_BASIC, gsm7_septets
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentKind, PaymentRequest, text_name
from soko.payments.errors import MerchantNotFound
from soko.people import access, wallets
from soko.people import service as users
from soko.people.domain import (
    User,
    UserKind,
    UssdSession,
    check_pin,
    country_of_phone,
    home_currency,
    parse_phone,
)
from soko.people.errors import PhoneNumberInvalid, PinMalformed, RecipientIsSender, UserNotFound

log = logging.getLogger(__name__)

UNAVAILABLE: Final = N_("Soko is unavailable. Please try again later.")
NOT_REGISTERED: Final = N_("This number has no Soko account. Visit a Soko agent to register.")
TOO_LONG: Final = N_("This session is too long. Please dial again.")
SESSION_OVER: Final = N_("This session has ended. Please dial again.")
BACK: Final = N_("0 Back 00 Menu")
#: What a screen shown again after a refused input says first.
INVALID_CHOICE: Final = N_("Invalid choice.")
_PREFIX: Final = 4  # "CON " or "END "
ROOM: Final = limits.USSD_SCREEN_CHARS_MAX - _PREFIX
#: An order's first item is shown cut to this width.
_ITEM_WIDTH: Final = 28
#: "More" in a list: the next page.
MORE: Final = "9"
MORE_LABEL: Final = N_("More")
LANGUAGE_SET: Final = N_("Soko speaks {language} to you now.")


@dataclass(frozen=True, slots=True)
class Screen:
    """What the phone shows: CON waits for an input, END closes the session."""

    kind: Literal["CON", "END"]
    text: str
    #: The screen asks for a PIN: a terminal does not echo what is typed.
    secret: bool = False

    def render(self) -> str:
        """The response body; cut to one USSD screen if it ever were longer."""
        body = f"{self.kind} {self.text}"
        if fits(body):
            return body
        log.warning("USSD screen too long, cut: %r", body)
        kept = "".join(c if c in GSM7_BASIC else "?" for c in body)
        return kept[: limits.USSD_SCREEN_CHARS_MAX - 2].rstrip() + ".."


def fits(body: str) -> bool:
    septets = gsm7_septets(body)
    return septets is not None and septets <= limits.USSD_SCREEN_CHARS_MAX


def plain(text: str, width: int) -> str:
    """Free text (an item's name) as a screen can carry it: GSM-7 letters, at most `width`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    kept = " ".join("".join(c if c in GSM7_BASIC else " " for c in ascii_text).split())
    return kept if len(kept) <= width else kept[: width - 2].rstrip() + ".."


def respond(ctx: Context, phone: str, inputs: Sequence[str], session_id: str) -> Screen:
    """The screen for a session of `phone` after `inputs`; never raises."""
    language = i18n.default_language(_country(phone))
    try:
        user = users.find_by_phone(ctx, phone)
    except (UserNotFound, PhoneNumberInvalid):
        return Screen("END", i18n.translator(language)(NOT_REGISTERED))
    except Exception:
        log.exception("USSD session %s failed", session_id)
        return Screen("END", i18n.translator(language)(UNAVAILABLE))
    language = i18n.language_for(user.language, user.country)
    _ = i18n.translator(language)
    try:
        return _session(ctx, user, language, list(inputs), session_id)
    except DomainError as refused:
        return Screen("END", screen_for(refused, _))
    except Exception:
        log.exception("USSD session %s failed", session_id)
        return Screen("END", _(UNAVAILABLE))


def _country(phone: str) -> str | None:
    try:
        return country_of_phone(parse_phone(phone))
    except PhoneNumberInvalid:
        return None


# --- the session: a resent final request, resuming a dropped dial ------------------------------


def _session(ctx: Context, user: User, language: str, inputs: list[str], sid: str) -> Screen:
    _ = i18n.translator(language)
    if len(inputs) > limits.USSD_INPUTS_MAX:
        return Screen("END", _(TOO_LONG))
    kept = access.ussd_session(ctx, sid)
    if kept is not None and kept.phone != user.phone:
        return Screen("END", _(SESSION_OVER))
    if kept is not None and kept.result is not None:
        # The aggregator resent the final request: the same answer, nothing done again.
        same = kept.result_inputs == len(inputs)
        return Screen("END", kept.result if same else _(SESSION_OVER))
    if kept is None:
        dropped = access.resumable_ussd_session(ctx, user.phone) if not inputs else None
        dropped = dropped if dropped is None or dropped.id != sid else None
        kept = UssdSession(
            id=sid, phone=user.phone,
            origin_id=dropped.origin_id if dropped is not None else sid,
            resumed_path=dropped.path if dropped is not None else "",
            offered=dropped is not None, path="", result=None, result_inputs=None,
            updated_at=ctx.clock.now(),
        )  # fmt: skip
    origin, base, rest, note = sid, [], inputs, None
    if kept.offered:
        answered = _resume_answer(inputs)
        if answered is None:
            note = _(INVALID_CHOICE) if inputs else None
            screen = _resume_offer(ctx, user, language, kept, note)
            _remember(ctx, replace(kept, updated_at=ctx.clock.now()))
            return screen
        resume, taken = answered
        rest = inputs[taken:]
        if resume:
            origin, base = kept.origin_id, kept.resumed_path.split("*")
    try:
        walk = _walk(Dialogue(ctx, user, language, origin), [*base, *rest])
    except DomainError as refused:
        # A refusal is the session's answer too: resent, it is not tried (or counted) again.
        walk = Walk(Screen("END", screen_for(refused, _)), [])
    if walk.screen.kind == "END":
        kept = replace(kept, result=walk.screen.text, result_inputs=len(inputs))
    else:
        kept = replace(kept, path="*".join(walk.public))
    _remember(ctx, replace(kept, updated_at=ctx.clock.now()))
    return walk.screen


def _resume_answer(inputs: Sequence[str]) -> tuple[bool, int] | None:
    """Whether the caller resumes, and how many inputs the answer took (refused ones too)."""
    for index, entry in enumerate(inputs):
        if entry in ("1", "2"):
            return entry == "1", index + 1
    return None


def _resume_offer(
    ctx: Context, user: User, language: str, kept: UssdSession, note: str | None
) -> Screen:
    _ = i18n.translator(language)
    where = _walk(Dialogue(ctx, user, language, kept.origin_id), kept.resumed_path.split("*"))
    lines = [line for line in where.screen.text.split("\n") if line]
    title = lines[1] if where.noted and len(lines) > 1 else lines[0] if lines else ""
    offer = _("Continue where you stopped?\n{where}\n1 Continue\n2 Main menu")
    text = offer.format(where=plain(title, 60))
    if note is not None and fits(f"CON {note}\n{text}"):
        text = f"{note}\n{text}"
    return Screen("CON", text)


def _remember(ctx: Context, kept: UssdSession) -> None:
    try:
        access.save_ussd_session(ctx, kept)
    except Exception:
        # Losing this costs only the resent-request screen and resuming: idempotency keys still
        # stop any payment from repeating. The caller gets their screen.
        log.exception("USSD session %s not saved", kept.id)


# --- the walk ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Dialogue:
    ctx: Context
    user: User
    language: str
    #: The session whose idempotency keys this dialogue uses.
    session_id: str
    _: Callable[[str], str] = field(init=False)
    currency: Currency = field(init=False)

    def __post_init__(self) -> None:
        self._ = i18n.translator(self.language)
        self.currency = home_currency(self.user.country)

    def money(self, amount: Money) -> str:
        return i18n.format_money(amount, self.language, self.user.country)

    def time(self, moment: datetime) -> str:
        return moment.astimezone(self.ctx.timezone).strftime("%H:%M")

    def day(self, moment: datetime) -> str:
        return moment.astimezone(self.ctx.timezone).strftime("%d/%m")


@dataclass(frozen=True, slots=True)
class Note:
    """The input was refused: the same screen again, with this said first."""

    text: str


class Menu:
    """One screen of the tree: what it shows, and where an input on it leads."""

    #: What is typed on this screen is a secret (a PIN): never kept, never resumed.
    secret: bool = False
    #: What is typed here counts towards the idempotency key's step. Not so on a question that
    #: depends on what was paid since ("Send again?"): a resumed dial that meets its own
    #: payment there keeps the first dial's key, and so replays that payment.
    keyed: bool = True

    def prompt(self, d: Dialogue, room: int) -> str:
        raise NotImplementedError

    def answer(
        self, d: Dialogue, entry: str, path: Sequence[str], last: bool
    ) -> Menu | Note | Screen:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Walk:
    screen: Screen
    #: The inputs up to the first secret one: what a resumed dial takes over.
    public: list[str]
    #: The screen starts with a note.
    noted: bool = False


def _walk(d: Dialogue, inputs: Sequence[str]) -> Walk:
    # Each screen reached, with the input that reached it (None for the main menu, or where the
    # screen before does not count towards the key).
    stack: list[tuple[Menu, str | None]] = [(main_menu(d), None)]
    note: str | None = None
    public = len(inputs)
    for index, entry in enumerate(inputs):
        note = None
        menu = stack[-1][0]
        if menu.secret:
            public = min(public, index)
        if entry == "00":
            del stack[1:]
            continue
        if entry == "0" and len(stack) > 1:
            stack.pop()
            continue
        path = [taken for _, taken in stack[1:] if taken is not None]
        outcome = menu.answer(d, entry, path, index == len(inputs) - 1)
        if isinstance(outcome, Screen):
            return Walk(outcome, list(inputs[:public]))
        if isinstance(outcome, Note):
            note = outcome.text
        else:
            stack.append((outcome, entry if menu.keyed else None))
    menu = stack[-1][0]
    kept = list(inputs[:public])
    if note is not None:
        noted = f"{note}\n{menu.prompt(d, ROOM - len(note) - 1)}"
        if fits(f"CON {noted}"):
            return Walk(Screen("CON", noted, menu.secret), kept, noted=True)
    # A long screen keeps its options rather than the note.
    return Walk(Screen("CON", menu.prompt(d, ROOM), menu.secret), kept)


def _choice(entry: str, count: int) -> int | None:
    """The option number 1..count an input names, or None."""
    if entry.isascii() and entry.isdigit() and len(entry) <= 2 and 1 <= int(entry) <= count:
        return int(entry)
    return None


def _confirm(d: Dialogue, entry: str, then: Menu) -> Menu | Note:
    return then if entry == "1" else Note(d._("Enter 1 to confirm."))


def _amount(d: Dialogue, entry: str, currency: Currency | None = None) -> Money | Note:
    try:
        amount = Money.parse(entry.strip(), currency or d.currency)
    except InvalidInput as refused:
        return Note(screen_for(refused, d._))
    if not amount.is_positive():
        return Note(screen_for(AmountMustBePositive(), d._))
    return amount


def _lines(d: Dialogue, *lines: str) -> str:
    """A screen's lines, then "0 Back 00 Menu"."""
    return "\n".join([*lines, d._(BACK)])


@dataclass(frozen=True, slots=True)
class Options(Menu):
    """A list of choices, each leading to a screen."""

    title: str
    options: tuple[tuple[str, Callable[[], Menu]], ...]
    top: bool = False

    def prompt(self, d: Dialogue, room: int) -> str:
        lines = [d._(self.title)]
        lines += [f"{n} {d._(label)}" for n, (label, _) in enumerate(self.options, 1)]
        return "\n".join(lines) if self.top else _lines(d, *lines)

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        chosen = _choice(entry, len(self.options))
        if chosen is None:
            return Note(d._(INVALID_CHOICE))
        return self.options[chosen - 1][1]()


def main_menu(d: Dialogue) -> Menu:
    if d.user.kind is UserKind.AGENT:
        return Options(N_("Soko Agent"), (
            (N_("Float balance"), lambda: BalancePin(N_("Float balance"))),
            (N_("Cash in"), lambda: PhoneEntry("cash_in")),
            (N_("Commissions"), CommissionsPin),
            (N_("Mini-statement"), StatementPin),
            (N_("My account"), account_menu),
        ), top=True)  # fmt: skip
    options: tuple[tuple[str, Callable[[], Menu]], ...] = (
        (N_("My balance"), lambda: BalancePin(N_("My balance"))),
        (N_("Send money"), lambda: PhoneEntry("p2p")),
        (N_("Pay a till"), lambda: TillEntry(bill=False)),
        (N_("Pay by reference"), lambda: TillEntry(bill=True)),
        (N_("Withdraw cash"), lambda: PhoneEntry("cash_out")),
        (N_("My orders"), Orders),
        (N_("Mini-statement"), StatementPin),
        (N_("My account"), account_menu),
    )
    if d.user.kind is UserKind.MERCHANT:
        options += ((N_("My shop"), shop_menu),)
    if d.ctx.mpesa is not None and d.currency.code == deposits_domain.CURRENCY:
        options += ((TOP_UP, TopUpAmount),)
    return Options("Soko", options, top=True)


def account_menu() -> Menu:
    return Options(N_("My account"), (
        (N_("Change PIN"), OldPin), (N_("Language"), LanguageMenu),
    ))  # fmt: skip


def shop_menu() -> Menu:
    return Options(N_("My shop"), (
        (N_("Today's sales"), SalesPin), (N_("Last payments"), PaymentsPin),
        (N_("My loan"), LoanMenu),
    ))  # fmt: skip


class Pin(Menu):
    """The last step: a PIN, checked, and then the use case; its answer ends the session."""

    secret = True

    def prompt(self, d: Dialogue, room: int) -> str:
        return _lines(d, self.asks(d), d._("Enter your PIN:"))

    def asks(self, d: Dialogue) -> str:
        raise NotImplementedError

    def checks_pin(self) -> bool:
        """The use case checks the PIN itself (cash_out): it is not checked twice."""
        return False

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Note | Screen:
        try:
            check_pin(entry)
        except PinMalformed as refused:
            return Note(screen_for(refused, d._))
        if not last:
            # Inputs after a PIN: a replayed history must never repeat the effect.
            return Screen("END", d._(SESSION_OVER))
        if not self.checks_pin():
            users.verify_pin(d.ctx, d.user.id, entry)
        step = hashlib.sha256("*".join(path).encode()).hexdigest()[:16]
        return Screen("END", self.act(d, f"ussd:{d.session_id}:{step}", entry))

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class BalancePin(Pin):
    title: str

    def asks(self, d: Dialogue) -> str:
        return d._(self.title)

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        lines = [d._("Your balance:")]
        for view in wallets.list_wallets(d.ctx, d.user.id):
            line = d.money(view.balance)
            if view.available != view.balance:
                line += d._(", {amount} free").format(amount=d.money(view.available))
            lines.append(line)
        if len(lines) == 1:
            lines.append(d.money(Money.zero(d.currency)))
        return "\n".join(lines)


# --- send money, cash in, withdraw: a phone number, an amount, a confirmation ------------------

Flow = Literal["p2p", "cash_in", "cash_out"]
_FLOW_TITLES: Final[dict[str, str]] = {
    "p2p": N_("Send money"), "cash_in": N_("Cash in"), "cash_out": N_("Withdraw cash"),
}  # fmt: skip
_FLOW_ASKS: Final[dict[str, str]] = {
    "p2p": N_("Enter the phone number:"),
    "cash_in": N_("Enter the customer's phone number:"),
    "cash_out": N_("Enter the agent number:"),
}


def _person(d: Dialogue, phone: str) -> User | None:
    try:
        return users.find_by_phone(d.ctx, phone)
    except UserNotFound:
        return None


def _name_of(d: Dialogue, phone: str) -> str | None:
    person = _person(d, phone)
    return None if person is None else text_name(person.name)


@dataclass(frozen=True, slots=True)
class PhoneEntry(Menu):
    flow: Flow

    def prompt(self, d: Dialogue, room: int) -> str:
        return _lines(d, d._(_FLOW_TITLES[self.flow]), d._(_FLOW_ASKS[self.flow]))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        try:
            phone = parse_phone(entry.strip(), d.user.country)
        except PhoneNumberInvalid as refused:
            if self.flow == "cash_out":
                return Note(d._("An agent number is the agent's phone number."))
            return Note(screen_for(refused, d._))
        if phone == d.user.phone:
            return Note(screen_for(RecipientIsSender(), d._))
        if self.flow != "p2p":
            person = _person(d, phone)
            if self.flow == "cash_out" and (person is None or person.kind is not UserKind.AGENT):
                return Note(d._("No Soko agent has that number."))
            if self.flow == "cash_in" and person is None:
                return Note(d._("No Soko account has this phone number."))
        return AmountEntry(self.flow, phone)


@dataclass(frozen=True, slots=True)
class AmountEntry(Menu):
    flow: Flow
    phone: str

    def prompt(self, d: Dialogue, room: int) -> str:
        who = _name_of(d, self.phone) or self.phone
        titles = {"p2p": N_("Send to {name}"), "cash_in": N_("Cash in for {name}"),
                  "cash_out": N_("Withdraw at {name}")}  # fmt: skip
        ask = d._("Enter the amount ({currency}):").format(currency=d.currency.code)
        return _lines(d, d._(titles[self.flow]).format(name=who), ask)

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        amount = _amount(d, entry)
        if isinstance(amount, Note):
            return amount
        confirm = PhoneConfirm(self.flow, self.phone, amount)
        payee = _person(d, self.phone)
        payer_id = d.user.id
        repeated = payments.repeated_payment(
            d.ctx, payer_id=payer_id, kind=PaymentKind(self.flow), amount=amount,
            within_seconds=limits.USSD_REPEAT_SECONDS,
            payee_phone=self.phone if self.flow == "p2p" else None,
            payee_user_id=None if payee is None else payee.id,
        )  # fmt: skip
        if repeated is not None:
            who = text_name(payee.name) if payee is not None else self.phone
            return Repeat(amount, who, repeated.created_at, confirm)
        return confirm


@dataclass(frozen=True, slots=True)
class Repeat(Menu):
    """The same amount to the same party minutes ago: a re-dial after a lost reply, or meant?"""

    amount: Money
    who: str
    at: datetime
    then: Menu
    keyed = False

    def prompt(self, d: Dialogue, room: int) -> str:
        said = d._("You sent {amount} to {name} at {time}. Send again?").format(
            amount=d.money(self.amount), name=self.who, time=d.time(self.at)
        )
        return _lines(d, said, d._("1 Yes, again"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return self.then if entry == "1" else Note(d._("Enter 1 to send again or 0 to go back."))


@dataclass(frozen=True, slots=True)
class PhoneConfirm(Menu):
    flow: Flow
    phone: str
    amount: Money

    def prompt(self, d: Dialogue, room: int) -> str:
        name = _name_of(d, self.phone)
        money = d.money(self.amount)
        if self.flow == "p2p":
            fee = d.money(payments.p2p_fee(d.ctx, self.amount))
            if name is None:
                days = max(1, d.ctx.unclaimed_transfer_seconds // 86_400)
                asks = d._(
                    "Send {amount} to {phone}? Not on Soko: it waits {days} days for them."
                ).format(amount=money, phone=self.phone, days=days)
            else:
                asks = d._("Send {amount} to {name} {phone}?").format(
                    amount=money, name=name, phone=self.phone
                )
            return _lines(d, asks, d._("Fee {fee}").format(fee=fee), d._("1 Confirm"))
        if self.flow == "cash_in":
            asks = d._("Give {name} {phone} {amount} from your float?").format(
                name=name or "", phone=self.phone, amount=money
            )
            return _lines(d, asks, d._("1 Confirm"))
        fee = d.money(payments.cash_out_fee(d.ctx, self.amount))
        asks = d._("Withdraw {amount} at agent {name} {phone}?").format(
            amount=money, name=name or "", phone=self.phone
        )
        return _lines(d, asks, d._("Fee {fee}").format(fee=fee), d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm(d, entry, PhonePin(self.flow, self.phone, self.amount))


@dataclass(frozen=True, slots=True)
class PhonePin(Pin):
    flow: Flow
    phone: str
    amount: Money

    def checks_pin(self) -> bool:
        return self.flow == "cash_out"

    def asks(self, d: Dialogue) -> str:
        who = _name_of(d, self.phone) or self.phone
        asks = {"p2p": N_("Send {amount} to {name}"), "cash_in": N_("Cash in {amount} for {name}"),
                "cash_out": N_("Withdraw {amount} at {name}")}  # fmt: skip
        return d._(asks[self.flow]).format(amount=d.money(self.amount), name=who)

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        name = _name_of(d, self.phone)
        money = d.money(self.amount)
        if self.flow == "cash_in":
            paid = payments.cash_in(
                d.ctx,
                agent_id=d.user.id,
                customer_phone=self.phone,
                amount=self.amount,
                idempotency_key=idempotency_key,
            )
            return d._("{name} got {amount}. You earned {commission}. Ref {ref}.").format(
                name=name or self.phone,
                amount=money,
                ref=_short(paid),
                commission=d.money(Money(paid.commission, self.amount.currency)),
            )
        if self.flow == "cash_out":
            agent = users.find_by_phone(d.ctx, self.phone)
            paid = payments.cash_out(d.ctx, customer_id=d.user.id, agent_id=agent.id,
                                     amount=self.amount, pin=pin,
                                     idempotency_key=idempotency_key)  # fmt: skip
            return d._("Take {amount} in cash from {name}. Fee {fee}. Ref {ref}.").format(
                amount=money,
                name=name or self.phone,
                ref=_short(paid),
                fee=d.money(Money(paid.fee, self.amount.currency)),
            )
        paid = payments.send_money(d.ctx, sender_id=d.user.id, amount=self.amount,
                                   to_phone=self.phone,
                                   idempotency_key=idempotency_key)  # fmt: skip
        fee = d.money(Money(paid.fee, self.amount.currency))
        if name is None:
            return d._("Sent {amount} to {phone}. Fee {fee}. It waits for them to register. "
                       "Ref {ref}.").format(amount=money, phone=self.phone, fee=fee,
                                            ref=_short(paid))  # fmt: skip
        return d._("Sent {amount} to {name}. Fee {fee}. Ref {ref}.").format(
            amount=money, name=name, fee=fee, ref=_short(paid)
        )


def _short(payment: Payment) -> str:
    return payment.id[-10:]


# --- top up from M-Pesa: an amount, a confirmation, the STK prompt on this phone ---------------

TOP_UP: Final = N_("Top up from M-Pesa")


@dataclass(frozen=True, slots=True)
class TopUpAmount(Menu):
    def prompt(self, d: Dialogue, room: int) -> str:
        ask = d._("Enter the amount ({currency}):").format(currency=d.currency.code)
        return _lines(d, d._(TOP_UP), ask)

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        amount = _amount(d, entry)
        if isinstance(amount, Note):
            return amount
        try:
            # Checked here so the caller types it again, rather than at the end.
            deposits_domain.whole_shillings(amount.amount_minor)
        except DomainError as refused:
            return Note(screen_for(refused, d._))
        return TopUpConfirm(amount)


@dataclass(frozen=True, slots=True)
class TopUpConfirm(Menu):
    """The last step: "1" sends the STK push (no Soko PIN: the customer's M-Pesa PIN, typed in
    M-Pesa's own prompt, is what pays). Its answer ends the session; a resent final request
    gets the same END screen (`_session`), and the push is idempotent on the dialogue's key."""

    amount: Money

    def prompt(self, d: Dialogue, room: int) -> str:
        asks = d._("Top up {amount} from M-Pesa {phone}?").format(
            amount=d.money(self.amount), phone=d.user.phone
        )
        return _lines(d, asks, d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Note | Screen:
        if entry != "1":
            return Note(d._("Enter 1 to confirm."))
        if not last:
            return Screen("END", d._(SESSION_OVER))
        step = hashlib.sha256("*".join([*path, entry]).encode()).hexdigest()[:16]
        deposit = deposits.request_deposit(
            d.ctx, user_id=d.user.id, amount=self.amount, phone=None,
            idempotency_key=f"ussd:{d.session_id}:{step}",
        )  # fmt: skip
        if deposit.state is DepositState.FAILED:
            return Screen("END", d._("M-Pesa could not send the prompt. Please try again later."))
        if deposit.state is DepositState.PAID:
            return Screen("END", d._("{amount} from M-Pesa is in your wallet.").format(
                amount=d.money(self.amount)))  # fmt: skip
        return Screen("END", d._(
            "Check your phone for the M-Pesa prompt to pay {amount}. Enter your M-Pesa PIN "
            "there. Ref {ref}."
        ).format(amount=d.money(self.amount), ref=deposit.account_reference))  # fmt: skip


# --- pay a till, pay by reference --------------------------------------------------------------


def _trading_name(d: Dialogue, till: str) -> str:
    return text_name(users.find_by_till(d.ctx, till).trading_name)


@dataclass(frozen=True, slots=True)
class TillEntry(Menu):
    #: Paying a merchant's payment request by its reference, rather than an amount at its till.
    bill: bool

    def prompt(self, d: Dialogue, room: int) -> str:
        title = d._("Pay by reference") if self.bill else d._("Pay a till")
        return _lines(d, title, d._("Enter the till number:"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        till = entry.strip()
        if not (till.isascii() and till.isdigit() and len(till) <= 12):
            return Note(d._("A till number is digits only."))
        try:
            merchant = users.find_by_till(d.ctx, till)
        except MerchantNotFound as refused:
            return Note(screen_for(refused, d._))
        if merchant.user_id == d.user.id:
            return Note(screen_for(RecipientIsSender(), d._))
        return ReferenceEntry(till) if self.bill else TillAmount(till)


@dataclass(frozen=True, slots=True)
class TillAmount(Menu):
    till: str

    def prompt(self, d: Dialogue, room: int) -> str:
        ask = d._("Enter the amount ({currency}):").format(currency=d.currency.code)
        return _lines(d, d._("Pay {name}").format(name=_trading_name(d, self.till)), ask)

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        amount = _amount(d, entry)
        if isinstance(amount, Note):
            return amount
        confirm = TillConfirm(self.till, amount)
        merchant = users.find_by_till(d.ctx, self.till)
        repeated = payments.repeated_payment(
            d.ctx, payer_id=d.user.id, kind=PaymentKind.MERCHANT, amount=amount,
            within_seconds=limits.USSD_REPEAT_SECONDS, payee_user_id=merchant.user_id,
        )  # fmt: skip
        if repeated is not None:
            return Repeat(amount, text_name(merchant.trading_name), repeated.created_at, confirm)
        return confirm


@dataclass(frozen=True, slots=True)
class TillConfirm(Menu):
    till: str
    amount: Money

    def prompt(self, d: Dialogue, room: int) -> str:
        asks = d._("Pay {amount} to {name}, till {till}?").format(
            amount=d.money(self.amount), name=_trading_name(d, self.till), till=self.till
        )
        return _lines(d, asks, d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm(d, entry, TillPin(self.till, self.amount))


@dataclass(frozen=True, slots=True)
class TillPin(Pin):
    till: str
    amount: Money

    def asks(self, d: Dialogue) -> str:
        return d._("Pay {amount} to {name}").format(
            amount=d.money(self.amount), name=_trading_name(d, self.till)
        )

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        paid = payments.pay_merchant(d.ctx, payer_id=d.user.id, amount=self.amount,
                                     till_number=self.till,
                                     idempotency_key=idempotency_key)  # fmt: skip
        return d._("Paid {amount} to {name}. Ref {ref}.").format(
            amount=d.money(self.amount), name=_trading_name(d, self.till), ref=_short(paid)
        )


@dataclass(frozen=True, slots=True)
class ReferenceEntry(Menu):
    till: str

    def prompt(self, d: Dialogue, room: int) -> str:
        return _lines(d, d._("Pay {name}").format(name=_trading_name(d, self.till)),
                      d._("Enter the reference:"))  # fmt: skip

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        reference = entry.strip()
        try:
            found = payment_requests.find_request(d.ctx, till_number=self.till,
                                                  reference=reference)  # fmt: skip
        except DomainError as refused:
            return Note(screen_for(refused, d._))
        return RequestConfirm(found.id)


def _request(d: Dialogue, request_id: str) -> tuple[PaymentRequest, str]:
    found = payment_requests.get_request(d.ctx, request_id)
    return found, text_name(users.get_merchant(d.ctx, found.merchant_id).trading_name)


@dataclass(frozen=True, slots=True)
class RequestConfirm(Menu):
    request_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        found, name = _request(d, self.request_id)
        amount = Money.of(found.amount, found.currency)
        asks = d._("Pay {amount} to {name} for {reference}?").format(
            amount=d.money(amount), name=name, reference=plain(found.reference, 25)
        )
        return _lines(d, asks, d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm(d, entry, RequestPin(self.request_id))


@dataclass(frozen=True, slots=True)
class RequestPin(Pin):
    request_id: str

    def asks(self, d: Dialogue) -> str:
        found, name = _request(d, self.request_id)
        return d._("Pay {amount} to {name}").format(
            amount=d.money(Money.of(found.amount, found.currency)), name=name
        )

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        found, name = _request(d, self.request_id)
        asked = Money.of(found.amount, found.currency)
        paid = payment_requests.pay_request(
            d.ctx,
            payer_id=d.user.id,
            request_id=found.id,
            idempotency_key=idempotency_key,
            amount=asked,
        )
        return d._("Paid {amount} to {name} for {reference}. Ref {ref}.").format(
            amount=d.money(asked), name=name, reference=plain(found.reference, 25),
            ref=_short(paid),
        )  # fmt: skip


# --- mini-statement, agent and merchant reports -------------------------------------------------

_ENTRY_WORDS: Final[dict[str, str]] = {
    "p2p": N_("Transfer"), "payment": N_("Payment"), "fee": N_("Fee"), "refund": N_("Refund"),
    "cash_in": N_("Deposit"), "cash_out": N_("Withdrawal"), "commission": N_("Commission"),
    "float_topup": N_("Float"), "escrow_hold": N_("Escrow"), "escrow_release": N_("Escrow"),
    "loan_disbursement": N_("Loan"), "loan_repayment": N_("Loan repaid"),
    "loan_fee": N_("Loan fee"), "deposit": N_("Deposit"), "withdrawal": N_("Withdrawal"),
    "payout": N_("Payout"), "fx_conversion": N_("Exchange"),
}  # fmt: skip


class StatementPin(Pin):
    def asks(self, d: Dialogue) -> str:
        return d._("Mini-statement")

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        views = wallets.list_wallets(d.ctx, d.user.id)
        view = next((v for v in views if v.wallet.currency == d.currency.code), None)
        if view is None and views:
            view = views[0]
        if view is None:
            return d._("No movements yet.")
        page = wallets.statement(d.ctx, view.wallet.id, limit=limits.USSD_STATEMENT_ENTRIES)
        lines = [
            d._("Last {count}, {currency}:").format(
                count=len(page.entries), currency=view.wallet.currency
            )
        ]
        for entry in page.entries:
            signed = d.money(entry.amount).split(" ", 1)[1]
            word = d._(_ENTRY_WORDS.get(entry.code, entry.code))
            lines.append(f"{d.day(entry.created_at)} {signed} {word}")
        if not page.entries:
            return d._("No movements yet.")
        lines.append(d._("Balance {amount}").format(amount=d.money(view.balance)))
        return "\n".join(lines)


class CommissionsPin(Pin):
    def asks(self, d: Dialogue) -> str:
        return d._("Commissions")

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        today = payments.start_of_day(d.ctx)
        month = today.replace(day=1)
        earned_today = payments.commissions_since(d.ctx, d.user.id, d.currency, today)
        earned_month = payments.commissions_since(d.ctx, d.user.id, d.currency, month)
        return d._("Commissions earned today: {today}. This month: {month}.").format(
            today=d.money(earned_today), month=d.money(earned_month)
        )


class SalesPin(Pin):
    def asks(self, d: Dialogue) -> str:
        return d._("Today's sales")

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        sales = payments.sales_since(d.ctx, d.user.id, payments.start_of_day(d.ctx))
        return d._("Today's sales: {count} payments, {total}.").format(
            count=sales.count, total=d.money(sales.total)
        )


class PaymentsPin(Pin):
    def asks(self, d: Dialogue) -> str:
        return d._("Last payments")

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        received = payments.payments_received(d.ctx, d.user.id, limits.USSD_LAST_PAYMENTS)
        if not received:
            return d._("No payments yet.")
        lines = [d._("Last payments:")]
        for got in received:
            amount = d.money(Money.of(got.payment.amount, got.payment.currency))
            lines.append(f"{d.day(got.payment.created_at)} {d.time(got.payment.created_at)} "
                         f"{amount} {plain(got.payer_name, 14)}")  # fmt: skip
        return "\n".join(lines)


# --- my account: PIN and language -----------------------------------------------------------------


class OldPin(Menu):
    secret = True

    def prompt(self, d: Dialogue, room: int) -> str:
        return _lines(d, d._("Change PIN"), d._("Enter your PIN:"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        try:
            return NewPin(check_pin(entry))
        except PinMalformed as refused:
            return Note(screen_for(refused, d._))


@dataclass(frozen=True, slots=True)
class NewPin(Menu):
    old: str = field(repr=False)
    secret = True

    def prompt(self, d: Dialogue, room: int) -> str:
        return _lines(d, d._("Change PIN"), d._("Enter a new PIN (4 to 6 digits):"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        try:
            return NewPinAgain(self.old, check_pin(entry))
        except PinMalformed as refused:
            return Note(screen_for(refused, d._))


@dataclass(frozen=True, slots=True)
class NewPinAgain(Menu):
    old: str = field(repr=False)
    new: str = field(repr=False)
    secret = True

    def prompt(self, d: Dialogue, room: int) -> str:
        return _lines(d, d._("Change PIN"), d._("Enter the new PIN again:"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Note | Screen:
        if entry != self.new:
            return Note(d._("The two new PINs differ."))
        if not last:
            return Screen("END", d._(SESSION_OVER))
        users.change_pin(d.ctx, d.user.id, self.old, self.new)
        return Screen("END", d._("Your PIN is changed. Keep it secret."))


class LanguageMenu(Menu):
    def prompt(self, d: Dialogue, room: int) -> str:
        offered = i18n.languages_for(d.user.country)
        return _lines(
            d, d._("Language"), *(f"{n} {i18n.NAMES.get(c, c)}" for n, c in enumerate(offered, 1))
        )

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Note | Screen:
        offered = i18n.languages_for(d.user.country)
        chosen = _choice(entry, len(offered))
        if chosen is None:
            return Note(d._(INVALID_CHOICE))
        if not last:
            return Screen("END", d._(SESSION_OVER))
        language = offered[chosen - 1]
        users.set_language(d.ctx, d.user.id, language)
        said = i18n.translator(language)(LANGUAGE_SET)
        return Screen("END", said.format(language=i18n.NAMES.get(language, language)))


# --- my shop: a merchant's loan -------------------------------------------------------------------

#: Why there is no offer, by the refusal's code: shorter than the credit feature's own sentences
#: (which state the facts: "You sold on 12 of the last 91 days; an offer needs at least 30."),
#: so that two fit on the screen under "No loan offer now." The score's factors, which explain
#: an offer, are the feature's sentences, translated.
_REASONS: Final[dict[str, str]] = {
    "tenure_too_short": N_("You have sold with Soko too short a time."),
    "too_few_active_days": N_("Sell with Soko on more days."),
    "refunds_too_high": N_("You refund too many sales."),
    "disputes_too_high": N_("Too many of your payments were disputed."),
    "past_loan_overdue": N_("A past Soko loan was paid late."),
    "currency_not_offered": N_("Soko does not lend in your currency yet."),
    "grade_not_offered": N_("Your sales score is below what Soko lends to."),
    "limit_too_small": N_("Your limit would be below the smallest loan."),
    "loan_open": N_("Repay your open loan first."),
    "loan_in_arrears": N_("Your loan is behind: catch up first."),
}


def _reason(d: Dialogue, reason: Reason) -> str:
    """A refusal in its short words; a factor of the score (a fact about the shop's sales) in
    the credit feature's own sentence, translated."""
    short = _REASONS.get(reason.code)
    return d._(short) if short is not None else reason.said(d._)


def _fitting(d: Dialogue, room: int, heading: str, reasons: Sequence[Reason]) -> str:
    """`heading`, then as many of the reasons as the screen has room for, in order."""
    lines = [heading]
    for line in dict.fromkeys(_reason(d, reason) for reason in reasons):
        if len(_lines(d, *lines, line)) > room:
            break
        lines.append(line)
    return _lines(d, *lines)


def _open_loan(d: Dialogue) -> Loan | None:
    loan_id = users.get_merchant(d.ctx, d.user.id).open_loan_id
    if loan_id is None:
        return None
    loan = credit.get_loan(d.ctx, loan_id)
    return loan if loan.status is LoanStatus.ACTIVE else None


def _offer(d: Dialogue) -> tuple[StoredOffer | None, list[Reason]]:
    found = credit.credit_offers(d.ctx, d.user.id)
    return (found.offers[0] if found.offers else None), found.reasons


class LoanMenu(Menu):
    def prompt(self, d: Dialogue, room: int) -> str:
        loan = _open_loan(d)
        if loan is not None:
            owed = d.money(Money.of(loan.outstanding_minor, loan.currency))
            return _lines(d, d._("My loan: {owed} owed").format(owed=owed),
                          d._("1 Balance owed"), d._("2 Repay"))  # fmt: skip
        offer, reasons = _offer(d)
        if offer is None:
            return _fitting(d, room, d._("No loan offer now."), reasons[:2])
        terms = d._("Up to {limit}. Fee {fee}, repaid as {share} of each sale.").format(
            limit=d.money(Money.of(offer.limit_minor, offer.currency)),
            fee=bps_percent(offer.fee_bps), share=bps_percent(offer.withhold_bps),
        )  # fmt: skip
        return _lines(d, d._("Loan offer"), terms, d._("1 Borrow"), d._("2 Why this offer"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        loan = _open_loan(d)
        if loan is not None:
            chosen = _choice(entry, 2)
            if chosen is None:
                return Note(d._(INVALID_CHOICE))
            return LoanOwedPin(loan.id) if chosen == 1 else RepayAmount(loan.id)
        offer, _ = _offer(d)
        chosen = _choice(entry, 2 if offer is not None else 0)
        if offer is None or chosen is None:
            return Note(d._(INVALID_CHOICE))
        return BorrowAmount(offer.id) if chosen == 1 else OfferReasons()


@dataclass(frozen=True, slots=True)
class OfferReasons(Menu):
    def prompt(self, d: Dialogue, room: int) -> str:
        return _fitting(d, room, d._("Why this offer:"), _offer(d)[1])

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Note:
        return Note(d._(INVALID_CHOICE))


def _stored_offer(d: Dialogue, offer_id: str) -> StoredOffer:
    offer, _ = _offer(d)
    if offer is None or offer.id != offer_id:
        # Used or replaced since the menu showed it.
        raise OfferExpired(offer_id=offer_id)
    return offer


@dataclass(frozen=True, slots=True)
class BorrowAmount(Menu):
    offer_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        offer = _stored_offer(d, self.offer_id)
        limit = d.money(Money.of(offer.limit_minor, offer.currency))
        return _lines(
            d,
            d._("Borrow up to {limit}").format(limit=limit),
            d._("Enter the amount ({currency}):").format(currency=offer.currency),
        )

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        offer = _stored_offer(d, self.offer_id)
        amount = _amount(d, entry, Currency.of(offer.currency))
        if isinstance(amount, Note):
            return amount
        if amount.amount_minor > offer.limit_minor:
            return Note(d._("That is more than your credit offer allows."))
        return BorrowConfirm(self.offer_id, amount)


@dataclass(frozen=True, slots=True)
class BorrowConfirm(Menu):
    offer_id: str
    amount: Money

    def prompt(self, d: Dialogue, room: int) -> str:
        offer = _stored_offer(d, self.offer_id)
        fee = Money(flat_fee(self.amount.amount_minor, offer.fee_bps), self.amount.currency)
        asks = d._("Borrow {amount}? Fee {fee}: you repay {total}, {share} of each sale.").format(
            amount=d.money(self.amount), fee=d.money(fee), total=d.money(self.amount + fee),
            share=bps_percent(offer.withhold_bps),
        )  # fmt: skip
        return _lines(d, asks, d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm(d, entry, BorrowPin(self.offer_id, self.amount))


@dataclass(frozen=True, slots=True)
class BorrowPin(Pin):
    offer_id: str
    amount: Money

    def asks(self, d: Dialogue) -> str:
        return d._("Borrow {amount}").format(amount=d.money(self.amount))

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        loan = credit.accept_offer(d.ctx, merchant_id=d.user.id, offer_id=self.offer_id,
                                   amount=self.amount, idempotency_key=idempotency_key)  # fmt: skip
        owed = d.money(Money.of(loan.total_repayable_minor, loan.currency))
        return d._("{amount} is in your wallet. You repay {owed} from your sales.").format(
            amount=d.money(self.amount), owed=owed
        )


@dataclass(frozen=True, slots=True)
class LoanOwedPin(Pin):
    loan_id: str

    def asks(self, d: Dialogue) -> str:
        return d._("Balance owed")

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        loan = credit.get_loan(d.ctx, self.loan_id)
        return d._("You owe {owed} of {total}. Repaid so far: {repaid}.").format(
            owed=d.money(Money.of(loan.outstanding_minor, loan.currency)),
            total=d.money(Money.of(loan.total_repayable_minor, loan.currency)),
            repaid=d.money(Money.of(loan.repaid_minor, loan.currency)),
        )


@dataclass(frozen=True, slots=True)
class RepayAmount(Menu):
    loan_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        loan = credit.get_loan(d.ctx, self.loan_id)
        owed = d.money(Money.of(loan.outstanding_minor, loan.currency))
        return _lines(
            d,
            d._("Repay: {owed} owed").format(owed=owed),
            d._("Enter the amount ({currency}):").format(currency=loan.currency),
        )

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        loan = credit.get_loan(d.ctx, self.loan_id)
        amount = _amount(d, entry, Currency.of(loan.currency))
        if isinstance(amount, Note):
            return amount
        if amount.amount_minor > loan.outstanding_minor:
            return Note(d._("That is more than your loan still owes."))
        return RepayConfirm(self.loan_id, amount)


@dataclass(frozen=True, slots=True)
class RepayConfirm(Menu):
    loan_id: str
    amount: Money

    def prompt(self, d: Dialogue, room: int) -> str:
        asks = d._("Repay {amount} of your loan from your wallet?").format(
            amount=d.money(self.amount)
        )
        return _lines(d, asks, d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm(d, entry, RepayPin(self.loan_id, self.amount))


@dataclass(frozen=True, slots=True)
class RepayPin(Pin):
    loan_id: str
    amount: Money

    def asks(self, d: Dialogue) -> str:
        return d._("Repay {amount}").format(amount=d.money(self.amount))

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        credit.repay(d.ctx, merchant_id=d.user.id, loan_id=self.loan_id, amount=self.amount,
                     idempotency_key=idempotency_key)  # fmt: skip
        loan = credit.get_loan(d.ctx, self.loan_id)
        return d._("Repaid {amount}. Still owed: {owed}.").format(
            amount=d.money(self.amount),
            owed=d.money(Money.of(loan.outstanding_minor, loan.currency)),
        )


# --- my orders (escrow) ------------------------------------------------------------------------

_STATE_WORDS: Final[dict[EscrowState, str]] = {
    EscrowState.CREATED: N_("waiting for payment"),
    EscrowState.FUNDED: N_("paid into escrow"),
    EscrowState.SHIPPED: N_("shipped"),
    EscrowState.DELIVERED: N_("delivered"),
    EscrowState.DISPUTED: N_("disputed"),
}
#: States in which the delivery code can still release the order.
_CODE_STATES: Final = frozenset({EscrowState.FUNDED, EscrowState.SHIPPED, EscrowState.DELIVERED})


def _ref(order: EscrowOrder) -> str:
    """The order's short reference, as its texts name it."""
    return order.id[-8:]


def _order_amount(order: EscrowOrder) -> Money:
    return Money(order.amount, Currency.of(order.currency))


def _open_orders(d: Dialogue, before: str | None, count: int) -> tuple[list[EscrowOrder], bool]:
    """Up to `count` of the user's open orders older than `before` (newest first), and whether
    there are more after them."""
    found: list[EscrowOrder] = []
    cursor = before
    while True:
        page = escrow.list_orders(d.ctx, d.user.id, limit=limits.PAGE_SIZE_DEFAULT, cursor=cursor)
        found += [order for order in page.orders if order.state not in CLOSED]
        if len(found) > count or page.next_cursor is None:
            return found[:count], len(found) > count
        cursor = page.next_cursor


def _order(d: Dialogue, order_id: str) -> EscrowOrder:
    order = escrow.get_order(d.ctx, order_id)
    if d.user.id not in (order.buyer_id, order.seller_id):
        raise EscrowNotFound(order_id=order_id)
    return order


def _party_name(d: Dialogue, user_id: str) -> str:
    """A merchant by its trading name, anyone else by name."""
    try:
        return text_name(users.get_merchant(d.ctx, user_id).trading_name)
    except UserNotFound:
        return text_name(users.get_user(d.ctx, user_id).name)


@dataclass(frozen=True, slots=True)
class Orders(Menu):
    """The open orders, a page at a time: "9 More" shows the ones after, so none is hidden."""

    #: The last order of the page before (None: the first page).
    before: str | None = None

    def listed(self, d: Dialogue, room: int) -> tuple[list[EscrowOrder], list[str], bool]:
        """The orders a screen of `room` characters lists, its lines, and whether more follow."""
        orders, more = _open_orders(d, self.before, limits.USSD_ORDERS_SHOWN_MAX)
        lines = [d._("My orders")]
        tail = [f"{MORE} {d._(MORE_LABEL)}", d._(BACK)]
        for number, order in enumerate(orders, 1):
            side = d._("buy") if order.buyer_id == d.user.id else d._("sell")
            line = f"{number} {_ref(order)} {d.money(_order_amount(order))} {side}"
            if len("\n".join([*lines, line, *tail])) > room:
                return orders[: number - 1], lines, True
            lines.append(line)
        return orders, lines, more

    def prompt(self, d: Dialogue, room: int) -> str:
        orders, lines, more = self.listed(d, room)
        if not orders:
            return _lines(d, d._("You have no open orders."))
        return _lines(d, *lines, *([f"{MORE} {d._(MORE_LABEL)}"] if more else []))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        # What the screen without a note lists: a choice of an order never shown is refused.
        orders, _, more = self.listed(d, ROOM)
        if entry == MORE and more and orders:
            return Orders(orders[-1].id)
        chosen = _choice(entry, len(orders))
        if chosen is None:
            return Note(d._(INVALID_CHOICE))
        return Order(orders[chosen - 1].id)


@dataclass(frozen=True, slots=True)
class Order(Menu):
    order_id: str

    def actions(self, d: Dialogue, order: EscrowOrder) -> list[tuple[str, Menu]]:
        if order.state in CLOSED:
            return []
        if order.buyer_id == d.user.id:
            if order.state is EscrowState.CREATED:
                return [(N_("Pay into escrow"), FundConfirm(order.id))]
            if order.state in _CODE_STATES:
                return [(N_("Show delivery code"), CodePin(order.id)),
                        (N_("Confirm receipt"), ReceiptConfirm(order.id))]  # fmt: skip
            return []
        if order.state in _CODE_STATES:
            return [(N_("Enter delivery code"), EnterCode(order.id))]
        return []

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        buying = order.buyer_id == d.user.id
        other = _party_name(d, order.seller_id if buying else order.buyer_id)
        state = _STATE_WORDS.get(order.state)
        lines = [
            d._("Order {ref} {amount}").format(ref=_ref(order),
                                               amount=d.money(_order_amount(order))),
            (d._("Seller: {name}") if buying else d._("Buyer: {name}")).format(name=other),
            d._("State: {state}").format(state=d._(state) if state else order.state.value),
        ]  # fmt: skip
        actions = self.actions(d, order)
        lines += [f"{number} {d._(label)}" for number, (label, _) in enumerate(actions, 1)]
        if order.items:
            item = plain(order.items[0].name, _ITEM_WIDTH)
            if len(_lines(d, *lines, item)) <= room:
                lines.insert(1, item)
        return _lines(d, *lines)

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        actions = self.actions(d, _order(d, self.order_id))
        chosen = _choice(entry, len(actions))
        if chosen is None:
            return Note(d._(INVALID_CHOICE))
        return actions[chosen - 1][1]


@dataclass(frozen=True, slots=True)
class FundConfirm(Menu):
    order_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        asks = d._("Pay {amount} to escrow for {ref} from {name}? Held till you have the "
                   "goods.").format(amount=d.money(_order_amount(order)), ref=_ref(order),
                                        name=_party_name(d, order.seller_id))  # fmt: skip
        return _lines(d, asks, d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm(d, entry, FundPin(self.order_id))


@dataclass(frozen=True, slots=True)
class FundPin(Pin):
    order_id: str

    def asks(self, d: Dialogue) -> str:
        order = _order(d, self.order_id)
        return d._("Pay {amount} into escrow").format(amount=d.money(_order_amount(order)))

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        order = escrow.fund(d.ctx, buyer_id=d.user.id, order_id=self.order_id,
                            idempotency_key=idempotency_key)  # fmt: skip
        return d._("Paid {amount} into escrow for order {ref}. Your delivery code comes by SMS: "
                   "give it only when you have the goods.").format(
            amount=d.money(_order_amount(order)), ref=_ref(order))  # fmt: skip


@dataclass(frozen=True, slots=True)
class CodePin(Pin):
    """The buyer sees the delivery code again (a secret: behind the PIN, but no money moves)."""

    order_id: str

    def asks(self, d: Dialogue) -> str:
        return d._("Delivery code of order {ref}").format(ref=_ref(_order(d, self.order_id)))

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        order = _order(d, self.order_id)
        shown_code = escrow.delivery_code(d.ctx, buyer_id=d.user.id, order_id=self.order_id)
        if shown_code.code is None:
            return d._("The delivery code for order {ref} was sent to you by SMS.").format(
                ref=_ref(order)
            )
        return d._("Your delivery code for order {ref} is {code}. Give it only when you have "
                   "the goods.").format(ref=_ref(order), code=shown_code.code)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReceiptConfirm(Menu):
    order_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        asks = d._("Release {amount} to {name} for order {ref}? Only if you have the "
                   "goods.").format(amount=d.money(_order_amount(order)), ref=_ref(order),
                                    name=_party_name(d, order.seller_id))  # fmt: skip
        return _lines(d, asks, d._("1 Confirm"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm(d, entry, ReceiptPin(self.order_id))


@dataclass(frozen=True, slots=True)
class ReceiptPin(Pin):
    order_id: str

    def asks(self, d: Dialogue) -> str:
        return d._("Release order {ref}").format(ref=_ref(_order(d, self.order_id)))

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        order = escrow.confirm_receipt(d.ctx, buyer_id=d.user.id, order_id=self.order_id,
                                       idempotency_key=idempotency_key)  # fmt: skip
        return d._("Released: {amount} to {name} for order {ref}.").format(
            amount=d.money(_order_amount(order)), name=_party_name(d, order.seller_id),
            ref=_ref(order),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EnterCode(Menu):
    order_id: str
    #: The buyer's one-time code is not kept for resuming either.
    secret = True

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        title = d._("Order {ref} {amount}").format(
            ref=_ref(order), amount=d.money(_order_amount(order))
        )
        return _lines(d, title, d._("Enter the buyer's delivery code:"))

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        code = entry.strip()
        if not (code.isascii() and code.isdigit() and len(code) == limits.DELIVERY_CODE_DIGITS):
            return Note(d._("A delivery code is {digits} digits.").format(
                digits=limits.DELIVERY_CODE_DIGITS))  # fmt: skip
        return CodeEntryPin(self.order_id, code)


@dataclass(frozen=True, slots=True)
class CodeEntryPin(Pin):
    order_id: str
    code: str

    def asks(self, d: Dialogue) -> str:
        return d._("Release order {ref} with code {code}").format(
            ref=_ref(_order(d, self.order_id)), code=self.code
        )

    def act(self, d: Dialogue, idempotency_key: str, pin: str) -> str:
        order = escrow.enter_delivery_code(d.ctx, order_id=self.order_id, code=self.code,
                                           seller_id=d.user.id,
                                           idempotency_key=idempotency_key)  # fmt: skip
        net = Money(order.released - order.fee, Currency.of(order.currency))
        return d._("Released: order {ref}, {amount}. You get {net} after fees.").format(
            ref=_ref(order), amount=d.money(_order_amount(order)), net=d.money(net)
        )
