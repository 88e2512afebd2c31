"""What every feature shares: money, ids, base errors, transactions, idempotency."""
