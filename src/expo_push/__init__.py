"""expo-push: send Expo push notifications from Python, reliably and fast.

The public names are re-exported here; the modules behind them are private.
The clients are imported on first use, so that importing the package (as
pytest does for the emulator's plugin) does not load httpx.
"""

from typing import TYPE_CHECKING

from ._errors import (
    DeveloperError,
    DeviceNotRegisteredError,
    ExpoError,
    ExpoPushError,
    InvalidCredentialsError,
    MessageRateExceededError,
    MessageTooBigError,
    MismatchSenderIdError,
    ProviderError,
    PushConnectionError,
    PushReceiptError,
    PushResponseError,
    PushServerError,
    PushTicketError,
    TooManyExperienceIdsError,
    TooManyNotificationsError,
    TooManyReceiptsError,
    TooManyRequestsError,
    UnauthorizedError,
    ValidationError,
)
from ._message import MAX_PAYLOAD_BYTES, PushMessage
from ._models import PushReceipt, PushTicket
from ._retry import RetryPolicy
from ._tokens import is_expo_push_token
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncPushClient, PushClient

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "AsyncPushClient",
    "DeveloperError",
    "DeviceNotRegisteredError",
    "ExpoError",
    "ExpoPushError",
    "InvalidCredentialsError",
    "MessageRateExceededError",
    "MessageTooBigError",
    "MismatchSenderIdError",
    "ProviderError",
    "PushClient",
    "PushConnectionError",
    "PushMessage",
    "PushReceipt",
    "PushReceiptError",
    "PushResponseError",
    "PushServerError",
    "PushTicket",
    "PushTicketError",
    "RetryPolicy",
    "TooManyExperienceIdsError",
    "TooManyNotificationsError",
    "TooManyReceiptsError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "ValidationError",
    "__version__",
    "is_expo_push_token",
]


def __getattr__(name: str) -> object:
    if name in ("PushClient", "AsyncPushClient"):
        from . import _client

        return getattr(_client, name)
    raise AttributeError(f"module 'expo_push' has no attribute {name!r}")
