"""Demo data: a small, believable ledger in KES and UGX for a newcomer to look at."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from soko.domain.chart import AccountCode, TransferCode
from soko.domain.ledger import TransferRequest, hold, move
from soko.domain.money import Money
from soko.services import ledger
from soko.services.idempotency import run_idempotent
from soko.services.ports import Context, UnitOfWork

# (label, currency, opening deposit in major units)
_WALLETS = (
    ("Amina (Nairobi)", "KES", "25000.00"),
    ("Wanjiru's kiosk (Nairobi)", "KES", "8200.50"),
    ("Okello (Kampala)", "UGX", "350000"),
    ("Nakato's salon (Kampala)", "UGX", "1200000"),
)


@dataclass(frozen=True, slots=True)
class DemoSummary:
    #: label -> ledger account id
    accounts: dict[str, str]
    transfers: int


def load_demo(ctx: Context) -> tuple[DemoSummary, bool]:
    """Load the demo ledger once; a second call finds it and returns (summary, True)."""
    outcome = run_idempotent(
        ctx,
        scope="soko:demo",
        key="demo-ledger-v1",
        request={"version": 1},
        work=lambda uow: _load(uow, ctx),
        encode=lambda summary: json.dumps(asdict(summary)),
        decode=lambda text: DemoSummary(**json.loads(text)),
    )
    return outcome.value, outcome.replayed


def _load(uow: UnitOfWork, ctx: Context) -> DemoSummary:
    opened: dict[str, str] = {}
    requests: list[TransferRequest] = []
    for label, currency, deposit in _WALLETS:
        settlement = ledger.system_account_in(uow, ctx, AccountCode.SETTLEMENT, currency)
        code = AccountCode.MERCHANT if "'s" in label else AccountCode.WALLET
        account = ledger.open_account_in(uow, ctx, currency, code)
        opened[label] = account.id
        requests.append(
            move(
                ctx.ids.new("tr"),
                debit_account_id=settlement.id,
                credit_account_id=account.id,
                amount=Money.parse(deposit, currency).amount_minor,
                currency=currency,
                code=TransferCode.DEPOSIT,
                reference="demo opening deposit",
            )
        )
    # Amina buys airtime-sized goods from Wanjiru, and holds a larger order in escrow.
    escrow = ledger.system_account_in(uow, ctx, AccountCode.ESCROW, "KES")
    requests.append(
        move(
            ctx.ids.new("tr"),
            debit_account_id=opened["Amina (Nairobi)"],
            credit_account_id=opened["Wanjiru's kiosk (Nairobi)"],
            amount=Money.parse("350.00", "KES").amount_minor,
            currency="KES",
            code=TransferCode.PAYMENT,
            reference="demo payment",
        )
    )
    requests.append(
        hold(
            ctx.ids.new("tr"),
            debit_account_id=opened["Amina (Nairobi)"],
            credit_account_id=escrow.id,
            amount=Money.parse("4500.00", "KES").amount_minor,
            currency="KES",
            code=TransferCode.ESCROW_HOLD,
            reference="demo escrow order",
        )
    )
    transfers = ledger.record(uow, ctx, requests)
    return DemoSummary(accounts=opened, transfers=len(transfers))
