"""Alembic migrations: the schema's history, applied by `soko db upgrade`."""
