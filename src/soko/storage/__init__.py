"""Storage: SQLAlchemy 2 Core implementations of the services' ports (SQLite, PostgreSQL)."""
