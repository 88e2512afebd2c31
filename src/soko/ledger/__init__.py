"""The double-entry, multi-currency ledger."""
