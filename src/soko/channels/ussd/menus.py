"""USSD dialogues: the menu tree, replayed from the session's input history (no state is kept).

The aggregator sends every input of a session so far (`text`, joined by "*"). `respond` walks
the tree from the main menu through those inputs and answers the screen the last one leads to:

- an input a screen does not accept leaves the dialogue where it was, and that screen is shown
  again with a short note (the next input answers the same screen);
- "0" goes back one screen and "00" to the main menu, from anywhere;
- a PIN is the last input of any dialogue that moves money or shows a secret: it is checked
  (wrong ones count towards the lockout) and the use case runs, only when the PIN is the very
  last input, so replaying a history never repeats an effect. Its answer is an END screen.
- every money movement is idempotent with the key `ussd:<session id>:<step>`, where the step is a
  hash of the accepted inputs that led to the PIN (never the PIN itself): an aggregator that
  resends the final request on a timeout gets the same result, and nothing moves twice.

Screens fit one USSD message: at most 182 GSM-7 characters, "CON " or "END " included.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from soko.channels.ussd.messages import screen_for
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import CLOSED, EscrowOrder, EscrowState
from soko.escrow.errors import EscrowNotFound
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, DomainError, InvalidInput
from soko.kernel.money import Currency, Money
from soko.notify.sms import GSM7_BASIC, gsm7_septets
from soko.payments import service as payments
from soko.payments.domain import text_name
from soko.payments.errors import MerchantNotFound
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import User, check_pin, home_currency, parse_phone
from soko.people.errors import PhoneNumberInvalid, PinMalformed, RecipientIsSender, UserNotFound

log = logging.getLogger(__name__)

UNAVAILABLE: Final = "Soko is unavailable. Please try again later."
NOT_REGISTERED: Final = "This number has no Soko account. Visit a Soko agent to register."
TOO_LONG: Final = "This session is too long. Please dial again."
SESSION_OVER: Final = "This session has ended. Please dial again."
BACK: Final = "0 Back 00 Menu"
#: What a screen shown again after a refused input says first.
INVALID_CHOICE: Final = "Invalid choice."
_PREFIX: Final = 4  # "CON " or "END "
#: An order's first item is shown cut to this width.
_ITEM_WIDTH: Final = 32


@dataclass(frozen=True, slots=True)
class Screen:
    """What the phone shows: CON waits for an input, END closes the session."""

    kind: Literal["CON", "END"]
    text: str
    #: The screen asks for a PIN: a terminal does not echo what is typed.
    secret: bool = False

    def render(self) -> str:
        """The response body; cut to one USSD message if it ever were longer."""
        body = f"{self.kind} {self.text}"
        if fits(body):
            return body
        log.warning("USSD screen too long, cut: %r", body)
        kept = "".join(c if c in GSM7_BASIC else "?" for c in body)
        return kept[: limits.USSD_SCREEN_CHARS_MAX - 2].rstrip() + ".."


def fits(body: str) -> bool:
    septets = gsm7_septets(body)
    return septets is not None and septets <= limits.USSD_SCREEN_CHARS_MAX


def shown(money: Money) -> str:
    """An amount as a screen shows it: `KES 1,500.00`, `UGX 20,000`."""
    whole, _, fraction = money.to_decimal_string().lstrip("-").partition(".")
    sign = "-" if money.amount_minor < 0 else ""
    grouped = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return f"{money.currency.code} {sign}{grouped}"


def plain(text: str, width: int) -> str:
    """Free text (an item's name) as a screen can carry it: GSM-7 letters, at most `width`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    kept = " ".join("".join(c if c in GSM7_BASIC else " " for c in ascii_text).split())
    return kept if len(kept) <= width else kept[: width - 2].rstrip() + ".."


def respond(ctx: Context, phone: str, inputs: Sequence[str], session_id: str) -> Screen:
    """The screen for a session of `phone` after `inputs`; never raises."""
    try:
        return _respond(ctx, phone, inputs, session_id)
    except DomainError as refused:
        return Screen("END", screen_for(refused))
    except Exception:
        log.exception("USSD session %s failed", session_id)
        return Screen("END", UNAVAILABLE)


# --- the walk ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dialogue:
    ctx: Context
    user: User
    currency: Currency
    session_id: str


@dataclass(frozen=True, slots=True)
class Note:
    """The input was refused: the same screen again, with this said first."""

    text: str


class Menu:
    """One screen of the tree: what it shows, and where an input on it leads."""

    def prompt(self, d: Dialogue, room: int) -> str:
        raise NotImplementedError

    def answer(
        self, d: Dialogue, entry: str, path: Sequence[str], last: bool
    ) -> Menu | Note | Screen:
        raise NotImplementedError


def _respond(ctx: Context, phone: str, inputs: Sequence[str], session_id: str) -> Screen:
    if len(inputs) > limits.USSD_INPUTS_MAX:
        return Screen("END", TOO_LONG)
    try:
        user = users.find_by_phone(ctx, phone)
    except (UserNotFound, PhoneNumberInvalid):
        return Screen("END", NOT_REGISTERED)
    d = Dialogue(ctx, user, home_currency(user.country), session_id)
    # Each screen reached, with the input that reached it (None for the main menu).
    stack: list[tuple[Menu, str | None]] = [(MainMenu(), None)]
    note: str | None = None
    for index, entry in enumerate(inputs):
        note = None
        if entry == "00":
            del stack[1:]
            continue
        if entry == "0" and len(stack) > 1:
            stack.pop()
            continue
        path = [taken for _, taken in stack[1:] if taken is not None]
        outcome = stack[-1][0].answer(d, entry, path, index == len(inputs) - 1)
        if isinstance(outcome, Screen):
            return outcome
        if isinstance(outcome, Note):
            note = outcome.text
        else:
            stack.append((outcome, entry))
    menu = stack[-1][0]
    secret = isinstance(menu, Pin)
    room = limits.USSD_SCREEN_CHARS_MAX - _PREFIX
    if note is not None:
        noted = f"{note}\n{menu.prompt(d, room - len(note) - 1)}"
        if fits(f"CON {noted}"):
            return Screen("CON", noted, secret)
    # A long screen keeps its options rather than the note.
    return Screen("CON", menu.prompt(d, room), secret)


def _choice(entry: str, count: int) -> int | None:
    """The option number 1..count an input names, or None."""
    if entry.isascii() and entry.isdigit() and len(entry) <= 2 and 1 <= int(entry) <= count:
        return int(entry)
    return None


def _confirm_answer(entry: str, then: Menu) -> Menu | Note:
    return then if entry == "1" else Note("Enter 1 to confirm or 0 to go back.")


def _amount(d: Dialogue, entry: str) -> Money | Note:
    try:
        amount = Money.parse(entry.strip(), d.currency)
    except InvalidInput as refused:
        return Note(screen_for(refused))
    if not amount.is_positive():
        return Note(screen_for(AmountMustBePositive()))
    return amount


# --- the main menu and the balance ---------------------------------------------------------------


class MainMenu(Menu):
    def prompt(self, d: Dialogue, room: int) -> str:
        return "Soko\n1 My balance\n2 Send money\n3 Pay a merchant\n4 My orders"

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        chosen = _choice(entry, 4)
        if chosen is None:
            return Note(INVALID_CHOICE)
        return (BalancePin(), SendPhone(), TillNumber(), Orders())[chosen - 1]


class Pin(Menu):
    """The last step: a PIN, checked, and then the use case; its answer ends the session."""

    def prompt(self, d: Dialogue, room: int) -> str:
        return f"{self.asks(d)}\nEnter your PIN:\n{BACK}"

    def asks(self, d: Dialogue) -> str:
        raise NotImplementedError

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Note | Screen:
        try:
            check_pin(entry)
        except PinMalformed as refused:
            return Note(screen_for(refused))
        if not last:
            # Inputs after a PIN: a replayed history must never repeat the effect.
            return Screen("END", SESSION_OVER)
        users.verify_pin(d.ctx, d.user.id, entry)
        step = hashlib.sha256("*".join(path).encode()).hexdigest()[:16]
        return Screen("END", self.act(d, f"ussd:{d.session_id}:{step}"))

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        raise NotImplementedError


class BalancePin(Pin):
    def asks(self, d: Dialogue) -> str:
        return "My balance"

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        lines = ["Your balance:"]
        for view in wallets.list_wallets(d.ctx, d.user.id):
            line = shown(view.balance)
            if view.available != view.balance:
                line += f", {shown(view.available)} free"
            lines.append(line)
        if len(lines) == 1:
            lines.append(shown(Money.zero(d.currency)))
        return "\n".join(lines)


# --- send money --------------------------------------------------------------------------------


def _name_of(d: Dialogue, phone: str) -> str | None:
    try:
        return text_name(users.find_by_phone(d.ctx, phone).name)
    except UserNotFound:
        return None


class SendPhone(Menu):
    def prompt(self, d: Dialogue, room: int) -> str:
        return f"Send money\nEnter the phone number:\n{BACK}"

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        try:
            phone = parse_phone(entry.strip(), d.user.country)
        except PhoneNumberInvalid as refused:
            return Note(screen_for(refused))
        if phone == d.user.phone:
            return Note(screen_for(RecipientIsSender()))
        return SendAmount(phone)


@dataclass(frozen=True, slots=True)
class SendAmount(Menu):
    phone: str

    def prompt(self, d: Dialogue, room: int) -> str:
        who = _name_of(d, self.phone) or self.phone
        return f"Send to {who}\nEnter the amount ({d.currency.code}):\n{BACK}"

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        amount = _amount(d, entry)
        return amount if isinstance(amount, Note) else SendConfirm(self.phone, amount)


@dataclass(frozen=True, slots=True)
class SendConfirm(Menu):
    phone: str
    amount: Money

    def prompt(self, d: Dialogue, room: int) -> str:
        name = _name_of(d, self.phone)
        fee = payments.p2p_fee(d.ctx, self.amount)
        if name is None:
            days = max(1, d.ctx.unclaimed_transfer_seconds // 86_400)
            who = f"{self.phone} (no Soko account: it waits {days} days for them)"
        else:
            who = f"{name} {self.phone}"
        return f"Send {shown(self.amount)} to {who}?\nFee {shown(fee)}\n1 Confirm\n{BACK}"

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm_answer(entry, SendPin(self.phone, self.amount))


@dataclass(frozen=True, slots=True)
class SendPin(Pin):
    phone: str
    amount: Money

    def asks(self, d: Dialogue) -> str:
        return f"Send {shown(self.amount)} to {_name_of(d, self.phone) or self.phone}"

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        paid = payments.send_money(
            d.ctx,
            sender_id=d.user.id,
            amount=self.amount,
            to_phone=self.phone,
            idempotency_key=idempotency_key,
        )
        fee = Money(paid.fee, self.amount.currency)
        name = _name_of(d, self.phone)
        if name is None:
            return (f"Sent {shown(self.amount)} to {self.phone}. Fee {shown(fee)}. It waits for "
                    f"them to register. Ref {paid.id[-10:]}.")  # fmt: skip
        return f"Sent {shown(self.amount)} to {name}. Fee {shown(fee)}. Ref {paid.id[-10:]}."


# --- pay a merchant ----------------------------------------------------------------------------


class TillNumber(Menu):
    def prompt(self, d: Dialogue, room: int) -> str:
        return f"Pay a merchant\nEnter the till number:\n{BACK}"

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        till = entry.strip()
        if not (till.isascii() and till.isdigit() and len(till) <= 12):
            return Note("A till number is digits only.")
        try:
            merchant = users.find_by_till(d.ctx, till)
        except MerchantNotFound as refused:
            return Note(screen_for(refused))
        if merchant.user_id == d.user.id:
            return Note(screen_for(RecipientIsSender()))
        return TillAmount(till)


def _trading_name(d: Dialogue, till: str) -> str:
    return text_name(users.find_by_till(d.ctx, till).trading_name)


@dataclass(frozen=True, slots=True)
class TillAmount(Menu):
    till: str

    def prompt(self, d: Dialogue, room: int) -> str:
        name = _trading_name(d, self.till)
        return f"Pay {name}\nEnter the amount ({d.currency.code}):\n{BACK}"

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        amount = _amount(d, entry)
        return amount if isinstance(amount, Note) else TillConfirm(self.till, amount)


@dataclass(frozen=True, slots=True)
class TillConfirm(Menu):
    till: str
    amount: Money

    def prompt(self, d: Dialogue, room: int) -> str:
        name = _trading_name(d, self.till)
        return f"Pay {shown(self.amount)} to {name}, till {self.till}?\n1 Confirm\n{BACK}"

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm_answer(entry, TillPin(self.till, self.amount))


@dataclass(frozen=True, slots=True)
class TillPin(Pin):
    till: str
    amount: Money

    def asks(self, d: Dialogue) -> str:
        return f"Pay {shown(self.amount)} to {_trading_name(d, self.till)}"

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        paid = payments.pay_merchant(d.ctx, payer_id=d.user.id, amount=self.amount,
                                     till_number=self.till,
                                     idempotency_key=idempotency_key)  # fmt: skip
        name = _trading_name(d, self.till)
        return f"Paid {shown(self.amount)} to {name}. Ref {paid.id[-10:]}."


# --- my orders (escrow) ------------------------------------------------------------------------

_STATE_WORDS: Final = {
    EscrowState.CREATED: "waiting for payment",
    EscrowState.FUNDED: "paid into escrow",
    EscrowState.SHIPPED: "shipped",
    EscrowState.DELIVERED: "delivered",
    EscrowState.DISPUTED: "disputed",
}
#: States in which the delivery code can still release the order.
_CODE_STATES: Final = frozenset({EscrowState.FUNDED, EscrowState.SHIPPED, EscrowState.DELIVERED})


def _ref(order: EscrowOrder) -> str:
    """The order's short reference, as its texts name it."""
    return order.id[-8:]


def _order_amount(order: EscrowOrder) -> Money:
    return Money(order.amount, Currency.of(order.currency))


def _open_orders(d: Dialogue) -> list[EscrowOrder]:
    """The user's open orders, newest first, as many as a screen lists."""
    page = escrow.list_orders(d.ctx, d.user.id, limit=limits.PAGE_SIZE_MAX)
    found = [order for order in page.orders if order.state not in CLOSED]
    return found[: limits.USSD_ORDERS_SHOWN_MAX]


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


def _line_fits(lines: list[str], line: str, room: int) -> bool:
    return len("\n".join([*lines, line, BACK])) <= room


class Orders(Menu):
    @staticmethod
    def listed(d: Dialogue, room: int) -> tuple[list[EscrowOrder], list[str]]:
        """The orders a screen of `room` characters lists, and its lines."""
        orders = _open_orders(d)
        lines = ["My orders"]
        for number, order in enumerate(orders, 1):
            side = "buy" if order.buyer_id == d.user.id else "sell"
            line = f"{number} {_ref(order)} {shown(_order_amount(order))} {side}"
            if not _line_fits(lines, line, room):
                return orders[: number - 1], lines
            lines.append(line)
        return orders, lines

    def prompt(self, d: Dialogue, room: int) -> str:
        orders, lines = self.listed(d, room)
        if not orders:
            return f"You have no open orders.\n{BACK}"
        return "\n".join([*lines, BACK])

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        # What the screen without a note lists: a choice of an order never shown is refused.
        orders, _ = self.listed(d, limits.USSD_SCREEN_CHARS_MAX - _PREFIX)
        chosen = _choice(entry, len(orders))
        if chosen is None:
            return Note(INVALID_CHOICE)
        return Order(orders[chosen - 1].id)


@dataclass(frozen=True, slots=True)
class Order(Menu):
    order_id: str

    def actions(self, d: Dialogue, order: EscrowOrder) -> list[tuple[str, Menu]]:
        if order.state in CLOSED:
            return []
        if order.buyer_id == d.user.id:
            if order.state is EscrowState.CREATED:
                return [("Pay into escrow", FundConfirm(order.id))]
            if order.state in _CODE_STATES:
                return [("Show delivery code", CodePin(order.id)),
                        ("Confirm receipt", ReceiptConfirm(order.id))]  # fmt: skip
            return []
        if order.state in _CODE_STATES:
            return [("Enter delivery code", EnterCode(order.id))]
        return []

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        buying = order.buyer_id == d.user.id
        other = _party_name(d, order.seller_id if buying else order.buyer_id)
        lines = [
            f"Order {_ref(order)} {shown(_order_amount(order))}",
            f"{'Seller' if buying else 'Buyer'}: {other}",
            f"State: {_STATE_WORDS.get(order.state, order.state.value)}",
        ]
        actions = self.actions(d, order)
        lines += [f"{number} {label}" for number, (label, _) in enumerate(actions, 1)]
        if order.items:
            item = plain(order.items[0].name, _ITEM_WIDTH)
            if _line_fits(lines, item, room):
                lines.insert(1, item)
        return "\n".join([*lines, BACK])

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        actions = self.actions(d, _order(d, self.order_id))
        chosen = _choice(entry, len(actions))
        if chosen is None:
            return Note(INVALID_CHOICE)
        return actions[chosen - 1][1]


@dataclass(frozen=True, slots=True)
class FundConfirm(Menu):
    order_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        seller = _party_name(d, order.seller_id)
        return (
            f"Pay {shown(_order_amount(order))} into escrow for order {_ref(order)} from "
            f"{seller}? Held until you have the goods.\n1 Confirm\n{BACK}"
        )

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm_answer(entry, FundPin(self.order_id))


@dataclass(frozen=True, slots=True)
class FundPin(Pin):
    order_id: str

    def asks(self, d: Dialogue) -> str:
        order = _order(d, self.order_id)
        return f"Pay {shown(_order_amount(order))} into escrow"

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        order = escrow.fund(d.ctx, buyer_id=d.user.id, order_id=self.order_id,
                            idempotency_key=idempotency_key)  # fmt: skip
        return (f"Paid {shown(_order_amount(order))} into escrow for order {_ref(order)}. Your "
                "delivery code comes by SMS: give it only when you have the goods.")  # fmt: skip


@dataclass(frozen=True, slots=True)
class CodePin(Pin):
    """The buyer sees the delivery code again (a secret: behind the PIN, but no money moves)."""

    order_id: str

    def asks(self, d: Dialogue) -> str:
        return f"Delivery code of order {_ref(_order(d, self.order_id))}"

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        order = _order(d, self.order_id)
        shown_code = escrow.delivery_code(d.ctx, buyer_id=d.user.id, order_id=self.order_id)
        if shown_code.code is None:
            return f"The delivery code for order {_ref(order)} was sent to you by SMS."
        return (f"Your delivery code for order {_ref(order)} is {shown_code.code}. Give it only "
                "when you have the goods.")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReceiptConfirm(Menu):
    order_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        seller = _party_name(d, order.seller_id)
        return (f"Release {shown(_order_amount(order))} to {seller} for order {_ref(order)}? "
                f"Only if you have the goods.\n1 Confirm\n{BACK}")  # fmt: skip

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        return _confirm_answer(entry, ReceiptPin(self.order_id))


@dataclass(frozen=True, slots=True)
class ReceiptPin(Pin):
    order_id: str

    def asks(self, d: Dialogue) -> str:
        return f"Release order {_ref(_order(d, self.order_id))}"

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        order = escrow.confirm_receipt(d.ctx, buyer_id=d.user.id, order_id=self.order_id,
                                       idempotency_key=idempotency_key)  # fmt: skip
        seller = _party_name(d, order.seller_id)
        return f"Released: {shown(_order_amount(order))} to {seller} for order {_ref(order)}."


@dataclass(frozen=True, slots=True)
class EnterCode(Menu):
    order_id: str

    def prompt(self, d: Dialogue, room: int) -> str:
        order = _order(d, self.order_id)
        return (f"Order {_ref(order)} {shown(_order_amount(order))}\nEnter the buyer's delivery "
                f"code:\n{BACK}")  # fmt: skip

    def answer(self, d: Dialogue, entry: str, path: Sequence[str], last: bool) -> Menu | Note:
        code = entry.strip()
        if not (code.isascii() and code.isdigit() and len(code) == limits.DELIVERY_CODE_DIGITS):
            return Note(f"A delivery code is {limits.DELIVERY_CODE_DIGITS} digits.")
        return CodeEntryPin(self.order_id, code)


@dataclass(frozen=True, slots=True)
class CodeEntryPin(Pin):
    order_id: str
    code: str

    def asks(self, d: Dialogue) -> str:
        return f"Release order {_ref(_order(d, self.order_id))} with code {self.code}"

    def act(self, d: Dialogue, idempotency_key: str) -> str:
        order = escrow.enter_delivery_code(d.ctx, order_id=self.order_id, code=self.code,
                                           seller_id=d.user.id,
                                           idempotency_key=idempotency_key)  # fmt: skip
        net = Money(order.released - order.fee, Currency.of(order.currency))
        return (f"Released: order {_ref(order)}, {shown(_order_amount(order))}. You get "
                f"{shown(net)} after fees.")  # fmt: skip
