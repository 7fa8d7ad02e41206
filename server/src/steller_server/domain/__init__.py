"""The money engine and business rules, free of HTTP.

Functions take an open connection (``conn``, inside the caller's transaction) or the
:class:`~steller_server.db.Database` (when they own the transaction), keyword-only arguments, and
raise :mod:`steller_server.domain.errors` subclasses carrying a stable ``code``.
"""
