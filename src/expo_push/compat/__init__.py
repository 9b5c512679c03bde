"""Drop-in replacement for ``exponent_server_sdk``: change one import line, keep your code.

::

    # from exponent_server_sdk import PushClient, PushMessage, DeviceNotRegisteredError, PushServerError
    from expo_push.compat import PushClient, PushMessage, DeviceNotRegisteredError, PushServerError

The names and behaviour are those of ``exponent-server-sdk`` 2.2.0, plus the
``AsyncPushClient`` of ``async-expo-push-notifications`` 2.3.1, carried out by
expo-push's clients: requests are cut by recipients, paced under the service's
rate limit, retried, and sent over keep-alive connections. Where the older SDK was wrong
(list ``to``, ``check_receipts`` without the session's access token,
``ExpoPushToken[...]`` refused), this one is right; ``PushClient`` lists the
differences. Every exception is also the matching expo-push exception, so new
code can catch ``expo_push.DeviceNotRegisteredError`` and old code
``expo_push.compat.DeviceNotRegisteredError`` alike.
"""

from .._public import show_as
from ._client import AsyncPushClient, PushClient
from ._errors import (
    DeviceNotRegisteredError,
    InvalidCredentialsError,
    MessageRateExceededError,
    MessageTooBigError,
    PushServerError,
    PushTicketError,
    ServerResponse,
)
from ._models import PushMessage, PushReceipt, PushTicket

__all__ = [
    "AsyncPushClient",
    "DeviceNotRegisteredError",
    "InvalidCredentialsError",
    "MessageRateExceededError",
    "MessageTooBigError",
    "PushClient",
    "PushMessage",
    "PushReceipt",
    "PushServerError",
    "PushTicket",
    "PushTicketError",
    "ServerResponse",
]

show_as(__name__, globals(), __all__)
