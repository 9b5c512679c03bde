"""The facts of Expo's Push service that the client relies on: paths, limits and codes, in one place."""

from __future__ import annotations

__all__ = [
    "COMPRESS_OVER",
    "DEVICE_NOT_REGISTERED",
    "MAX_NOTIFICATIONS_PER_REQUEST",
    "MAX_RECEIPT_IDS_PER_REQUEST",
    "MAX_RESPONSE_BYTES",
    "PROJECT_FORM",
    "RATE_LIMIT",
    "RECEIPTS_PATH",
    "SEND_PATH",
    "TOO_MANY_EXPERIENCE_IDS",
    "TICKET_ID_FORM",
    "TOO_MANY_REQUESTS",
]

SEND_PATH = "/--/api/v2/push/send"
RECEIPTS_PATH = "/--/api/v2/push/getReceipts"

MAX_NOTIFICATIONS_PER_REQUEST = 100
"""Recipients per send request: a message to a list of tokens counts once per token."""
MAX_RECEIPT_IDS_PER_REQUEST = 1000
RATE_LIMIT = 600
"""Notifications per second and project that the service accepts before answering 429."""

COMPRESS_OVER = 1024
"""Request bodies larger than this many bytes are sent gzip-compressed (the service accepts gzip bodies)."""
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""The largest answer read, after decompression. The service's largest real one, 1,000 receipts, is well under 1 MB."""

DEVICE_NOT_REGISTERED = "DeviceNotRegistered"
"""The error code of a ticket or receipt whose token is dead: stop sending to it."""
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
TOO_MANY_EXPERIENCE_IDS = "PUSH_TOO_MANY_EXPERIENCE_IDS"
"""The request mixed projects; ``details`` maps each ``@owner/slug`` to its tokens."""

PROJECT_FORM = r"@[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
"""An Expo project's full name, ``@owner/slug``: the account (user or organisation) and the app's slug."""
TICKET_ID_FORM = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
"""A ticket's (and so its receipt's) id: a UUID, ``XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX``."""
