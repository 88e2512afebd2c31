"""People: users, KYC tiers, wallets, API keys, sessions and PINs."""
