"""The fee role split over buckets (ADR 0011): each fee lands in the bucket of the account that
pays it, the role's total is the sum, and a refund takes its fee share back from the bucket the
payment paid into, on both databases."""

from __future__ import annotations

import zlib

from merchants import consumer, fees, kes, key, shop
from soko.context import Context
from soko.ledger import service as ledger
from soko.ledger.chart import FEE_BUCKETS, SYSTEM_ACCOUNTS, AccountCode
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import wallets
from soko.people.domain import Merchant

FEES = SYSTEM_ACCOUNTS[AccountCode.FEES]


def test_bucket_names_and_choice_are_fixed() -> None:
    assert FEES.buckets == FEE_BUCKETS == 32
    assert FEES.names("KES")[:3] == ["fees:KES", "fees:KES:1", "fees:KES:2"]
    assert len(set(FEES.names("KES"))) == FEE_BUCKETS
    # CRC-32, not Python's per-process salted hash: every worker and release agrees.
    assert FEES.bucket_for("acc_01JH") == zlib.crc32(b"acc_01JH") % 32
    assert SYSTEM_ACCOUNTS[AccountCode.SETTLEMENT].names("KES") == ["settlement:KES"]


def merchant_account(ctx: Context, merchant: Merchant) -> str:
    [wallet] = wallets.list_wallets(ctx, merchant.user_id)
    return wallet.wallet.account_id


def bucket_balance(ctx: Context, spread_by: str) -> int:
    name = FEES.name("KES", FEES.bucket_for(spread_by))
    with ctx.unit_of_work(read_only=True) as uow:
        account = uow.ledger.get_account_by_name(name)
    return 0 if account is None else account.balance


def shops_in_different_buckets(ctx: Context) -> tuple[Merchant, Merchant]:
    first = shop(ctx)
    payments.pay_merchant(ctx, payer_id=consumer(ctx, funds="10.00").id, amount=kes("1.00"),
                          merchant_id=first.user_id, idempotency_key=key())  # fmt: skip
    first_bucket = FEES.bucket_for(merchant_account(ctx, first))
    for _ in range(64):
        other = shop(ctx, name="Duka la Juma")
        payments.pay_merchant(ctx, payer_id=consumer(ctx, funds="10.00").id,
                              amount=kes("1.00"), merchant_id=other.user_id,
                              idempotency_key=key())  # fmt: skip
        if FEES.bucket_for(merchant_account(ctx, other)) != first_bucket:
            return first, other
    raise AssertionError("64 merchants all in one bucket")


def test_fees_land_in_the_payers_bucket_and_the_total_sums_them(any_ctx: Context) -> None:
    ctx = any_ctx
    first, other = shops_in_different_buckets(ctx)
    buyer = consumer(ctx, funds="10000.00")
    total_before = fees(ctx)
    first_before = bucket_balance(ctx, merchant_account(ctx, first))
    other_before = bucket_balance(ctx, merchant_account(ctx, other))
    for merchant in (first, other):
        payments.pay_merchant(ctx, payer_id=buyer.id, amount=kes("2000.00"),
                              merchant_id=merchant.user_id, idempotency_key=key())  # fmt: skip
    # 0.5 % of KES 2,000.00 each, into each merchant's own bucket.
    assert bucket_balance(ctx, merchant_account(ctx, first)) - first_before == 1_000
    assert bucket_balance(ctx, merchant_account(ctx, other)) - other_before == 1_000
    assert fees(ctx) - total_before == 2_000
    total = ledger.system_total(ctx, AccountCode.FEES, "KES")
    assert total.balance == total.credits_posted - total.debits_posted == fees(ctx)
    assert reconcile(ctx).passed


def test_a_refund_takes_the_fee_back_from_the_bucket_that_earned_it(any_ctx: Context) -> None:
    ctx = any_ctx
    merchant = shop(ctx)
    buyer = consumer(ctx, funds="10000.00")
    paid = payments.pay_merchant(ctx, payer_id=buyer.id, amount=kes("3000.00"),
                                 merchant_id=merchant.user_id, idempotency_key=key())  # fmt: skip
    spread_by = merchant_account(ctx, merchant)
    # This bucket holds exactly this payment's fee: a refund from any other would be refused
    # (a fees bucket never goes below zero) or leave this one holding a refunded fee.
    assert bucket_balance(ctx, spread_by) == paid.fee == 1_500
    payments.refund(ctx, merchant_id=merchant.user_id, payment_id=paid.id,
                    amount=kes("3000.00"), idempotency_key=key())  # fmt: skip
    assert bucket_balance(ctx, spread_by) == 0
    assert fees(ctx) == 0
    assert reconcile(ctx).passed
