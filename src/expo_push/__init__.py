"""expo-push: send Expo push notifications from Python, reliably and fast.

The public names are re-exported here; the modules behind them are private.
The clients are imported on first use, so that importing the package (as
pytest does for the emulator's plugin) does not load their transports.
"""

from typing import TYPE_CHECKING

from ._account import MessagePart, Position, SendAccount
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
    SendInterrupted,
    TooManyExperienceIdsError,
    TooManyNotificationsError,
    TooManyReceiptsError,
    TooManyRequestsError,
    UnauthorizedError,
    ValidationError,
)
from ._message import MAX_PAYLOAD_BYTES, PushMessage
from ._models import PushReceipt, PushTicket
from ._pacing import Pacer, PacerProtocol
from ._public import show_as
from ._retry import RetryPolicy
from ._tokens import is_expo_push_token
from ._transport import AsyncTransport, Timeout, Transport, TransportError
from ._version import __version__
from ._wire import HttpResponse

if TYPE_CHECKING:
    from ._async_client import AsyncPushClient
    from ._client import PushClient

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "AsyncPushClient",
    "AsyncTransport",
    "DeveloperError",
    "DeviceNotRegisteredError",
    "ExpoError",
    "ExpoPushError",
    "HttpResponse",
    "InvalidCredentialsError",
    "MessageRateExceededError",
    "MessageTooBigError",
    "MessagePart",
    "MismatchSenderIdError",
    "Pacer",
    "PacerProtocol",
    "Position",
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
    "SendAccount",
    "SendInterrupted",
    "Timeout",
    "TooManyExperienceIdsError",
    "TooManyNotificationsError",
    "TooManyReceiptsError",
    "TooManyRequestsError",
    "Transport",
    "TransportError",
    "UnauthorizedError",
    "ValidationError",
    "__version__",
    "is_expo_push_token",
]


show_as(__name__, globals(), __all__)


def __getattr__(name: str) -> object:
    if name == "PushClient":
        from ._client import PushClient

        return PushClient
    if name == "AsyncPushClient":
        from ._async_client import AsyncPushClient

        return AsyncPushClient
    raise AttributeError(f"module 'expo_push' has no attribute {name!r}")
