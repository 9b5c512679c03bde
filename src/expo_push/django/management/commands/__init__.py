"""``manage.py expo_push_worker`` and ``manage.py expo_push_receipts``."""

__all__: list[str] = []
