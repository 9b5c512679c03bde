"""The app's migrations; 0001 also creates the ledger's tables (the ledger's own DDL, for SQLite or PostgreSQL)."""

__all__: list[str] = []
