"""M-Pesa through Safaricom's Daraja API: the client, the callback parsers, a local sandbox and
the organisation statement reconciliation."""
