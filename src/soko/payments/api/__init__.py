"""Payments' HTTP routes."""
