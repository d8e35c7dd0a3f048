"""The log: one SQLite file holding every reading, event, decision and outbox row."""
