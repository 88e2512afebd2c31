"""The background worker: timers and housekeeping, in bounded batches."""
