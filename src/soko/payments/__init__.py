"""Getting paid and paying: P2P, cash, merchant payments, refunds, requests."""
