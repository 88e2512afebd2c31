"""Guaranteed trade: escrow orders, disputes and timers."""
