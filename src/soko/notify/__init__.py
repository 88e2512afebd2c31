"""The outbox: signed webhooks and SMS, sent after commit by the worker."""
