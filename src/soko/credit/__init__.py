"""Merchant credit: revenue-based working-capital loans scored from a merchant's own sales."""
