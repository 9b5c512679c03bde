"""The namedtuples and exceptions of ``expo_push.compat`` keep exponent_server_sdk 2.2.0's documented behaviour."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import expo_push
from expo_push import compat
from expo_push.compat import (
    DeviceNotRegisteredError,
    InvalidCredentialsError,
    MessageRateExceededError,
    MessageTooBigError,
    PushClient,
    PushMessage,
    PushReceipt,
    PushServerError,
    PushTicket,
    PushTicketError,
)

TOKEN = "ExponentPushToken[abcdefghijklmnop]"

LEGACY_FIELDS = (
    "to",
    "data",
    "title",
    "body",
    "sound",
    "ttl",
    "expiration",
    "priority",
    "badge",
    "category",
    "display_in_foreground",
    "channel_id",
    "subtitle",
    "mutable_content",
)


def test_message_keeps_the_fourteen_positional_fields_in_order() -> None:
    assert PushMessage._fields == LEGACY_FIELDS
    message = PushMessage(TOKEN, {"k": 1}, "title", "body", "default", 60, 1700000000, "high", 3, "cat", True, "ch",
                          "sub", False)  # fmt: skip
    assert [getattr(message, name) for name in LEGACY_FIELDS] == [
        TOKEN, {"k": 1}, "title", "body", "default", 60, 1700000000, "high", 3, "cat", True, "ch", "sub", False
    ]  # fmt: skip
    assert isinstance(message, tuple)
    assert message[:3] == (TOKEN, {"k": 1}, "title")


def test_message_is_exactly_the_older_fourteen_field_tuple() -> None:
    values = [TOKEN, {"k": 1}, "title", "body", "default", 60, 1700000000, "high", 3, "cat", True, "ch", "sub", False]
    message = PushMessage._make(values)
    assert len(message) == 14
    to, data, *_, subtitle, mutable_content = message
    assert (to, data, subtitle, mutable_content) == (TOKEN, {"k": 1}, "sub", False)
    assert message == tuple(values) == PushMessage(*values)
    assert message.icon is None
    assert message.get_payload()["mutableContent"] is False
    assert list(message._asdict()) == list(LEGACY_FIELDS)
    with pytest.raises(TypeError):
        PushMessage(*values, "one too many")


def test_newer_fields_are_kept_outside_the_tuple_and_survive_copies() -> None:
    message = PushMessage(TOKEN, title="t", icon="i.png", relevance_score=0.5, richContent={"image": "x"})
    assert len(message) == 14
    assert tuple(message) == (TOKEN, None, "t", *(None,) * 11)
    assert (message.icon, message.relevance_score, message.rich_content) == ("i.png", 0.5, {"image": "x"})
    payload = message.get_payload()
    assert (payload["icon"], payload["relevanceScore"], payload["richContent"]) == ("i.png", 0.5, {"image": "x"})
    changed = message._replace(to="ExponentPushToken[other]", tag="t1")
    assert (changed.to, changed.icon, changed.tag, changed.title) == ("ExponentPushToken[other]", "i.png", "t1", "t")
    assert message._replace(icon=None).icon is None
    assert message._asdict()["icon"] == "i.png"
    assert "icon='i.png'" in repr(message)
    for copied in (pickle.loads(pickle.dumps(message)), copy.deepcopy(message), copy.copy(message)):
        assert copied == message
        assert copied.icon == "i.png"
    assert message != PushMessage(TOKEN, title="t")
    assert message != message._replace(icon="other.png")
    with pytest.raises(AttributeError, match="immutable"):
        message.icon = "x"
    with pytest.raises(AttributeError):
        message.title = "x"  # type: ignore[misc]


def test_message_fields_all_default_to_none() -> None:
    message = PushMessage()
    assert all(value is None for value in message)
    assert PushMessage(to=TOKEN)._replace(body="b").body == "b"


def test_payload_has_the_legacy_names_in_the_legacy_order() -> None:
    message = PushMessage(
        to=TOKEN,
        data={"a": 1},
        title="t",
        body="b",
        sound="default",
        ttl=10,
        expiration=20,
        priority="high",
        badge=0,
        category="cat",
        display_in_foreground=True,
        channel_id="chan",
        subtitle="sub",
        mutable_content=True,
    )
    payload = message.get_payload()
    assert list(payload.items()) == [
        ("to", TOKEN),
        ("data", {"a": 1}),
        ("title", "t"),
        ("body", "b"),
        ("ttl", 10),
        ("expiration", 20),
        ("priority", "high"),
        ("subtitle", "sub"),
        ("sound", "default"),
        ("badge", 0),
        ("channelId", "chan"),
        ("categoryId", "cat"),
        ("mutableContent", True),
        ("_displayInForeground", True),
    ]


def test_payload_omits_fields_left_at_none_but_keeps_falsy_values() -> None:
    assert PushMessage(to=TOKEN).get_payload() == {"to": TOKEN}
    assert PushMessage(to=TOKEN, badge=0, mutable_content=False, title="").get_payload() == {
        "to": TOKEN,
        "title": "",
        "badge": 0,
        "mutableContent": False,
    }


def test_newer_fields_are_keywords_after_the_legacy_ones_and_before_the_legacy_flag() -> None:
    message = PushMessage(
        to=TOKEN, display_in_foreground=False, rich_content={"image": "https://x/i.png"}, interruption_level="active",
        content_available=True, thread_id="th",
    )  # fmt: skip
    assert list(message.get_payload()) == [
        "to", "richContent", "interruptionLevel", "_contentAvailable", "threadId", "_displayInForeground"
    ]  # fmt: skip


def test_rich_content_is_accepted_under_the_async_sdks_spelling() -> None:
    message = PushMessage(to=TOKEN, richContent={"image": "https://x/i.png"})
    assert message.rich_content == message.richContent == {"image": "https://x/i.png"}
    with pytest.raises(TypeError, match="not both"):
        PushMessage(to=TOKEN, richContent={"image": "a"}, rich_content={"image": "b"})


def test_payload_refuses_what_is_not_a_push_token_with_a_value_error() -> None:
    for bad in (None, "not-a-token", "a" * 64, ["ExponentPushToken[ok]", "nope"], []):
        with pytest.raises(ValueError, match="to"):
            PushMessage(to=bad).get_payload()


def test_payload_accepts_expo_tokens_and_lists_which_the_older_sdk_refused() -> None:
    assert PushMessage(to="ExpoPushToken[xyz]").get_payload() == {"to": "ExpoPushToken[xyz]"}
    assert PushMessage(to=[TOKEN, "ExpoPushToken[b]"]).get_payload()["to"] == [TOKEN, "ExpoPushToken[b]"]


def test_is_exponent_push_token_is_a_classmethod_accepting_both_spellings() -> None:
    assert PushClient.is_exponent_push_token(TOKEN)
    assert PushClient.is_exponent_push_token("ExpoPushToken[abc]")
    assert PushClient.is_exponent_push_token([TOKEN, "ExpoPushToken[abc]"])
    assert not PushClient.is_exponent_push_token("ExponentPushToken")
    assert not PushClient.is_exponent_push_token(42)
    assert not PushClient.is_exponent_push_token([])


def test_subclass_overriding_get_payload_is_a_supported_extension_point() -> None:
    class Tagged(PushMessage):
        __slots__ = ()

        def get_payload(self) -> dict[str, Any]:
            return {**super().get_payload(), "tag": "news"}

    assert Tagged(TOKEN, body="x").get_payload() == {"to": TOKEN, "body": "x", "tag": "news"}


def test_ticket_and_receipt_are_namedtuples_built_positionally() -> None:
    ticket = PushTicket(None, "ok", "", None, "receipt-1")
    assert PushTicket._fields == ("push_message", "status", "message", "details", "id")
    assert (ticket.status, ticket.id) == ("ok", "receipt-1")
    receipt = PushReceipt("receipt-1", "ok", "", None)
    assert PushReceipt._fields == ("id", "status", "message", "details")
    assert receipt._asdict() == {"id": "receipt-1", "status": "ok", "message": "", "details": None}


def test_status_and_error_constants_are_the_services_strings() -> None:
    for cls in (PushTicket, PushReceipt):
        assert (cls.SUCCESS_STATUS, cls.ERROR_STATUS) == ("ok", "error")
        assert cls.ERROR_DEVICE_NOT_REGISTERED == "DeviceNotRegistered"
        assert cls.ERROR_MESSAGE_TOO_BIG == "MessageTooBig"
        assert cls.ERROR_MESSAGE_RATE_EXCEEDED == "MessageRateExceeded"
    assert PushReceipt.INVALID_CREDENTIALS == "InvalidCredentials"
    assert PushTicket(None, "ok", "", None, "i").is_success()
    assert not PushReceipt("i", "error", "m", None).is_success()


TICKET_MAPPING = [
    ("DeviceNotRegistered", DeviceNotRegisteredError),
    ("MessageTooBig", MessageTooBigError),
    ("MessageRateExceeded", MessageRateExceededError),
    ("InvalidCredentials", InvalidCredentialsError),  # the older SDK raised PushTicketError, which this is
    ("Other", PushTicketError),
]


@pytest.mark.parametrize(("code", "expected"), TICKET_MAPPING)
def test_ticket_validate_response_raises_by_error_code(code: str, expected: type[Exception]) -> None:
    ticket = PushTicket(PushMessage(to=TOKEN), "error", "it failed", {"error": code}, "")
    with pytest.raises(PushTicketError) as caught:
        ticket.validate_response()
    assert type(caught.value) is expected
    assert caught.value.push_response is ticket
    assert caught.value.message == str(caught.value) == "it failed"


RECEIPT_MAPPING = TICKET_MAPPING


@pytest.mark.parametrize(("code", "expected"), RECEIPT_MAPPING)
def test_receipt_validate_response_also_maps_invalid_credentials(code: str, expected: type[Exception]) -> None:
    receipt = PushReceipt("r1", "error", "", {"error": code})
    with pytest.raises(PushTicketError) as caught:
        receipt.validate_response()
    assert type(caught.value) is expected
    assert caught.value.message == "Unknown push ticket error"
    assert caught.value.receipt_id == "r1"


@pytest.mark.parametrize(
    ("code", "core"),
    [
        ("MismatchSenderId", expo_push.MismatchSenderIdError),
        ("ProviderError", expo_push.ProviderError),
        ("DeveloperError", expo_push.DeveloperError),
        ("ExpoError", expo_push.ExpoError),
        ("InvalidCredentials", expo_push.InvalidCredentialsError),
    ],
)
def test_codes_the_older_sdk_had_no_class_for_raise_the_matching_expo_push_error(
    code: str, core: type[Exception]
) -> None:
    raised = []
    for response in (
        PushTicket(PushMessage(to=TOKEN), "error", "it failed", {"error": code}, ""),
        PushReceipt("r1", "error", "it failed", {"error": code}),
    ):
        with pytest.raises(PushTicketError) as caught:
            response.validate_response()
        assert isinstance(caught.value, core)
        assert isinstance(caught.value, expo_push.PushTicketError)
        assert isinstance(caught.value, expo_push.PushReceiptError)
        assert caught.value.push_response is response
        assert caught.value.code == code
        assert caught.value.message == str(caught.value) == "it failed"
        raised.append(type(caught.value))
    assert raised[0] is raised[1]
    assert raised[0].__name__ == core.__name__
    assert raised[0].__module__.startswith("expo_push.compat")


def test_validate_response_without_details_raises_the_generic_error() -> None:
    for response in (PushTicket(None, "error", "m", None, ""), PushReceipt("r", "error", "m", {})):
        with pytest.raises(PushTicketError) as caught:
            response.validate_response()
        assert type(caught.value) is PushTicketError
    assert PushTicket(None, "ok", "", None, "r").validate_response() is None


def test_compat_errors_are_also_the_matching_expo_push_errors() -> None:
    pairs = [
        (PushTicketError, expo_push.PushTicketError),
        (PushTicketError, expo_push.PushReceiptError),
        (DeviceNotRegisteredError, expo_push.DeviceNotRegisteredError),
        (MessageTooBigError, expo_push.MessageTooBigError),
        (MessageRateExceededError, expo_push.MessageRateExceededError),
        (InvalidCredentialsError, expo_push.InvalidCredentialsError),
        (PushServerError, expo_push.PushServerError),
    ]
    for ours, theirs in pairs:
        assert issubclass(ours, theirs), ours
    error = PushTicket(PushMessage(to=TOKEN), "error", "gone", {"error": "DeviceNotRegistered"}, "")
    with pytest.raises(expo_push.DeviceNotRegisteredError) as caught:
        error.validate_response()
    assert caught.value.code == "DeviceNotRegistered"
    assert caught.value.to == TOKEN
    assert caught.value.ticket is not None
    assert caught.value.ticket.error_code == "DeviceNotRegistered"


def test_push_server_error_keeps_the_legacy_signature_and_attributes() -> None:
    response = object()
    error = PushServerError("Request failed", response, response_data={"errors": []}, errors=[{"code": "X"}])
    assert (error.message, error.response, error.response_data, error.errors) == (
        "Request failed",
        response,
        {"errors": []},
        [{"code": "X"}],
    )
    assert str(error) == "Request failed"
    bare = PushServerError("Invalid server response", None)
    assert (bare.response_data, bare.errors) == (None, None)


def test_ticket_json_is_the_ticket_as_the_service_sent_it() -> None:
    assert PushTicket(None, "ok", "", None, "abc").json() == {"status": "ok", "id": "abc"}
    failed = PushTicket(None, "error", "gone", {"error": "DeviceNotRegistered"}, "")
    assert failed.json() == {"status": "error", "message": "gone", "details": {"error": "DeviceNotRegistered"}}
    assert PushReceipt("abc", "ok", "", None).json() == {"status": "ok"}


def test_the_public_names_of_the_older_sdk_are_all_there() -> None:
    older = {
        "PushClient", "PushMessage", "PushTicket", "PushReceipt", "PushTicketError", "PushServerError",
        "DeviceNotRegisteredError", "MessageTooBigError", "MessageRateExceededError", "InvalidCredentialsError",
        "AsyncPushClient",
    }  # fmt: skip
    assert older <= set(compat.__all__)
    for name in ("DEFAULT_HOST", "DEFAULT_BASE_API_URL", "DEFAULT_MAX_MESSAGE_COUNT", "DEFAULT_MAX_RECEIPT_COUNT"):
        assert getattr(PushClient, name) == getattr(compat.AsyncPushClient, name)
    assert (PushClient.DEFAULT_HOST, PushClient.DEFAULT_BASE_API_URL) == ("https://exp.host", "/--/api/v2")
    assert (PushClient.DEFAULT_MAX_MESSAGE_COUNT, PushClient.DEFAULT_MAX_RECEIPT_COUNT) == (100, 1000)
