"""Channels: the ways people and machines come in (API, web, USSD, CLI, worker)."""
