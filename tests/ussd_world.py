"""The USSD channel's test world: Amina (a consumer with money), Baraka, Wanjiru's Kiosk, and
an aggregator that posts to /ussd and checks every screen it gets on the way."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

from fastapi.testclient import TestClient
from pydantic import SecretStr

from fakes import FakeClock
from merchants import consumer, kes, key, phone, shop
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowOrder, OrderItem
from soko.kernel import limits
from soko.notify.sms import gsm7_septets
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import Merchant, User, UserKind

TOKEN = "ussd-aggregator-token-0123456789"
MAIN = (
    "CON Soko\n1 My balance\n2 Send money\n3 Pay a till\n4 Pay by reference\n5 Withdraw cash\n"
    "6 My orders\n7 Mini-statement\n8 My account"
)
AMINA_PIN = "2468"  # merchants.consumer's PIN
SHOP_PIN = "1357"
AGENT_PIN = "8642"


def local(phone: str) -> str:
    """+254712345678 as a Kenyan types it: 0712345678."""
    assert phone.startswith("+254"), phone
    return "0" + phone[4:]


def check_screen(body: str) -> None:
    assert body.startswith(("CON ", "END ")), body
    septets = gsm7_septets(body)
    assert septets is not None, f"not GSM-7: {body!r}"
    assert septets <= limits.USSD_SCREEN_CHARS_MAX, f"{septets} septets: {body!r}"


@dataclass
class Ussd:
    client: TestClient
    ctx: Context
    clock: FakeClock
    amina: User
    baraka: User
    kiosk: Merchant
    #: A cash agent with KES 100,000.00 of float.
    agent: User
    _sessions: Iterator[int] = field(default_factory=itertools.count)

    def new_session(self) -> str:
        """A fresh dial, minutes after the last one: no dropped dial is offered for resuming
        (tests of resuming dial with session ids of their own)."""
        self.clock.advance(limits.USSD_RESUME_SECONDS + 1)
        return f"ATUid_test_{next(self._sessions)}"

    def post(
        self, phone: str, text: str, session: str = "ATUid_test", **kwargs: object
    ) -> tuple[int, str]:
        kwargs.setdefault("headers", {"Authorization": f"Bearer {TOKEN}"})
        response = self.client.post(
            "/ussd",
            data={"sessionId": session, "serviceCode": "*483#", "phoneNumber": phone,
                  "text": text},
            **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
        return response.status_code, response.text

    def dial(self, phone: str, text: str, session: str = "ATUid_test") -> str:
        """One request of a session: its screen, checked for kind, size and alphabet."""
        status, body = self.post(phone, text, session)
        assert status == 200, body
        check_screen(body)
        return body

    def session(self, phone: str, *inputs: str) -> list[str]:
        """A whole session as the aggregator drives it: one request per input, in a fresh
        session; the screens in order, starting with the main menu."""
        session = self.new_session()
        return [self.dial(phone, "*".join(inputs[:n]), session) for n in range(len(inputs) + 1)]

    def order(self, amount: str = "2400.00", buyer: User | None = None) -> EscrowOrder:
        return escrow.create_order(
            self.ctx, seller_id=self.kiosk.user_id, buyer_id=(buyer or self.amina).id,
            amount=kes(amount), items=[OrderItem("Sack of maize flour, 24 kg", 1)],
            ship_by=self.clock.now() + timedelta(days=3), idempotency_key=key(),
        )  # fmt: skip

    def funded(self, amount: str = "2400.00") -> EscrowOrder:
        made = self.order(amount)
        return escrow.fund(self.ctx, buyer_id=self.amina.id, order_id=made.id,
                           idempotency_key=key())  # fmt: skip

    def sms_code(self, user: User) -> str:
        """The delivery code from the buyer's funding text."""
        with self.ctx.unit_of_work(read_only=True) as uow:
            texts = uow.notifications.list_sms_to(user.phone, 100)
        [text] = [t.text for t in texts if "Give code" in t.text]
        return text.split("Give code ")[1][:6]

    @property
    def shop_phone(self) -> str:
        return users.get_user(self.ctx, self.kiosk.user_id).phone


def with_token(runtime: Runtime, token: str | None) -> Runtime:
    settings = runtime.settings.model_copy(
        update={"ussd_token": None if token is None else SecretStr(token)}
    )
    return replace(runtime, settings=settings)


def world(runtime: Runtime, clock: FakeClock) -> Iterator[Ussd]:
    ctx = runtime.context
    amina = consumer(ctx, "Amina Wanjiku", funds="5000.00")
    baraka = consumer(ctx, "Baraka Otieno")
    kiosk = shop(ctx, "5999", name="Wanjiru's Kiosk")
    users.set_pin(ctx, kiosk.user_id, SHOP_PIN)
    agent = users.register(ctx, kind=UserKind.AGENT, phone=phone(), name="Juma Agent",
                           pin=AGENT_PIN)  # fmt: skip
    payments.top_up_float(ctx, agent_id=agent.id, amount=kes("100000.00"), idempotency_key=key())
    with TestClient(create_app(with_token(runtime, TOKEN))) as client:
        yield Ussd(client, ctx, clock, amina, baraka, kiosk, agent)
