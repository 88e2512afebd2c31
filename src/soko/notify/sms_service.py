"""SMS notifications: texts queued with each money movement, sent by the worker.

`queue` writes the text in the caller's transaction (the outbox), so a confirmation exists exactly
when its payment does; `send_due` hands it to the SMS gateway later, outside any transaction, with
the same claim, lease and capped backoff as webhook deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.i18n import Wording, wording_for
from soko.kernel.ports import GatewayFailed
from soko.kernel.transactions import in_transaction
from soko.notify.domain import Attempted, DueSms, SmsMessage, after_attempt
from soko.notify.sms import SMS_RETRIES, SmsStatus, fits
from soko.people.domain import User, country_of_phone


def reader(user: User) -> Wording:
    """How to write to `user`: in the language they chose, else their country's."""
    return wording_for(user.language, user.country)


def reader_of_phone(phone: str) -> Wording:
    """How to write to a number with no account yet: in its country's language."""
    country = country_of_phone(phone)
    return wording_for(None, country)


def queue(uow: UnitOfWork, ctx: Context, *, phone: str, text: str) -> str:
    """Queue `text` (one SMS: see `domain.sms.fits`; shorten with `domain.sms.fit`) to `phone`
    (E.164) in the caller's transaction. Returns the message id."""
    [sms_id] = queue_all(uow, ctx, [(phone, text)])
    return sms_id


def queue_all(uow: UnitOfWork, ctx: Context, texts: Sequence[tuple[str, str]]) -> list[str]:
    """`queue` for several (phone, text) pairs, in one statement. Returns the message ids."""
    for phone, text in texts:
        # The caller composes the text, so a text that does not fit is a bug in the caller,
        # not a refusal the payer could do anything about.
        assert fits(text), f"SMS text does not fit one message (use domain.sms.fit): {text!r}"
        assert phone.startswith("+") and len(phone) <= limits.PHONE_TEXT_LENGTH_MAX, phone
    messages = [(ctx.ids.new("sms"), phone, text) for phone, text in texts]
    if messages:
        uow.notifications.insert_sms(messages, ctx.clock.now())
    return [sms_id for sms_id, _, _ in messages]


def get_sms(ctx: Context, sms_id: str) -> SmsMessage | None:
    return in_transaction(ctx, lambda uow: uow.notifications.get_sms(sms_id), read_only=True)


def send_due(ctx: Context, limit: int = limits.SMS_PER_BATCH_MAX) -> int:
    """Send up to `limit` due texts; safe with several workers. Returns how many it tried."""
    assert 0 < limit <= limits.SMS_PER_BATCH_MAX, limit

    def claim(uow: UnitOfWork) -> list[DueSms]:
        now = ctx.clock.now()
        lease = ctx.outbox_lease_seconds or limits.SMS_LEASE_SECONDS
        lease_until = now + timedelta(seconds=lease)
        return uow.notifications.claim_due_sms(now, lease_until, limit)

    claimed = in_transaction(ctx, claim)
    for due in claimed:
        _record(ctx, due, _attempt(ctx, due))
    return len(claimed)


def _record(ctx: Context, due: DueSms, attempted: Attempted) -> None:
    def work(uow: UnitOfWork) -> bool:
        # False: another worker recorded this attempt after our lease ran out; its outcome stands.
        return uow.notifications.record_sms(due.sms_id, attempted)

    in_transaction(ctx, work)


def _attempt(ctx: Context, due: DueSms) -> Attempted:
    provider_id: str | None = None
    error: str | None = None
    try:
        provider_id = ctx.sms_sender.send(due.phone, due.text)
    except GatewayFailed as failure:
        error = str(failure) or type(failure).__name__
    now = ctx.clock.now()
    outcome = after_attempt(
        SMS_RETRIES,
        attempts_before=due.attempts,
        succeeded=error is None,
        now=now,
        seed=due.sms_id,
    )
    if outcome.succeeded:
        status = SmsStatus.SENT
    else:
        status = SmsStatus.DEAD if outcome.dead else SmsStatus.PENDING
    return Attempted(
        status=status.value,
        attempts_before=due.attempts,
        attempts=outcome.attempts,
        next_attempt_at=outcome.next_attempt_at,
        now=now,
        error=error,
        provider_message_id=provider_id,
    )
