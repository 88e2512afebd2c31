"""Soko: a self-hostable payments platform for small businesses and their customers."""

__version__ = "0.1.0"
