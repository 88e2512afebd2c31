"""Payouts: merchants' money out through a rail."""
