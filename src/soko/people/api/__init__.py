"""People's HTTP routes."""
