"""The facts of Expo's Push service that the client relies on: paths, limits and codes, in one place."""

from __future__ import annotations

__all__ = [
    "COMPRESS_OVER",
    "DEVICE_NOT_REGISTERED",
    "INVALID_CREDENTIALS",
    "KNOWN_ERRORS",
    "MESSAGE_RATE_EXCEEDED",
    "MESSAGE_TOO_BIG",
    "MISMATCH_SENDER_ID",
    "MAX_NOTIFICATIONS_PER_REQUEST",
    "MAX_RECEIPT_IDS_PER_REQUEST",
    "MAX_RESPONSE_BYTES",
    "PROJECT_FORM",
    "REQUEST_ERRORS",
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

MAX_PAYLOAD_BYTES = 4096
"""Bound on the JSON of a message without its ``to``: the providers' (APNs, FCM) payload limit."""

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

MESSAGE_RATE_EXCEEDED = "MessageRateExceeded"
"""The device was sent too much too fast: send again later, more slowly."""
MESSAGE_TOO_BIG = "MessageTooBig"
INVALID_CREDENTIALS = "InvalidCredentials"
"""The app's push credentials (FCM, APNs) are wrong: a set-up error, not the notification's."""
MISMATCH_SENDER_ID = "MismatchSenderId"
"""The FCM sender of the token is not the app's: a set-up error."""
KNOWN_ERRORS = frozenset(
    (DEVICE_NOT_REGISTERED, MESSAGE_RATE_EXCEEDED, MESSAGE_TOO_BIG, INVALID_CREDENTIALS, MISMATCH_SENDER_ID)
)
"""The error codes the service documents for tickets and receipts (it may send others)."""
REQUEST_ERRORS = frozenset(
    (
        TOO_MANY_REQUESTS,
        TOO_MANY_EXPERIENCE_IDS,
        "PUSH_TOO_MANY_NOTIFICATIONS",
        "PUSH_TOO_MANY_RECEIPTS",
        "UNAUTHORIZED",
        "VALIDATION_ERROR",
        "INTERNAL_SERVER_ERROR",
        "SERVICE_UNAVAILABLE",
    )
)
"""The codes of a whole request's failure that the service is known to answer (it may send others)."""
