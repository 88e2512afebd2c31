"""The web channel: pages people open in a phone's browser."""
