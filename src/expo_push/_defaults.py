"""The library's own defaults that more than one layer reads (the ledger and the command line).

A module of its own, importing nothing, so the command line reads them without importing the ledger.
"""

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_LEASE"]

DEFAULT_BATCH_SIZE = 500
"""Notifications an outbox worker claims at a time (``run_worker``, ``drain``, ``expo-push worker``)."""
DEFAULT_LEASE = 600.0
"""Seconds a silent worker keeps its outbox rows (longer than a request with its retries, 540 s by default)."""
