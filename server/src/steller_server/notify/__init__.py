"""Notifications that reach people: partner emails (``partner``), admin alert channels
(``alerts``), SMTP sending (``email``), templates and the sandbox outbox (``outbox``).
Everything is sent from the job queue (``jobs/notify.py``), never from a request."""
