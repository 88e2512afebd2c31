"""The database: engine, driver, unit of work, the one migration history."""
