"""Channels: the ways people and machines come in (API, CLI, later web, USSD, worker)."""
