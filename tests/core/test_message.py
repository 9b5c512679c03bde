import json

import pytest

from expo_push import MAX_PAYLOAD_BYTES, PushMessage, ValidationError
from expo_push._message import narrow, prepare_message

TOKEN = "ExponentPushToken[aaaaaaaaaaaaaaaaaaaaaa]"


def test_fields_are_camel_case_on_the_wire_and_defaults_are_omitted():
    message = PushMessage(
        to=TOKEN,
        title="t",
        channel_id="orders",
        mutable_content=True,
        interruption_level="time-sensitive",
        content_available=True,
        rich_content={"image": "https://example.invalid/a.png"},
    )
    assert message.to_wire() == {
        "to": TOKEN,
        "title": "t",
        "interruptionLevel": "time-sensitive",
        "channelId": "orders",
        "mutableContent": True,
        "_contentAvailable": True,
        "richContent": {"image": "https://example.invalid/a.png"},
    }


def test_extra_carries_fields_this_version_does_not_know():
    prepared = prepare_message(PushMessage(to=TOKEN, body="b", extra={"futureField": {"x": 1}}), 0)
    assert json.loads(prepared.payload) == {"body": "b", "futureField": {"x": 1}}


def test_camel_case_dicts_are_accepted_and_unknown_keys_pass_through():
    prepared = prepare_message({"to": [TOKEN], "channelId": "c", "contentAvailable": True, "newKey": 3}, 4)
    assert prepared.message.channel_id == "c"
    assert prepared.message.content_available is True
    assert prepared.message.extra == {"newKey": 3}
    assert prepared.recipients == (TOKEN,)
    assert prepared.to_is_list


def test_payload_excludes_to():
    prepared = prepare_message({"to": TOKEN}, 0)
    assert prepared.payload == b"{}"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"title": "x"}, "to", "is required"),
        ({"to": []}, "to", "empty list"),
        ({"to": 7}, "to", "must be an Expo push token"),
        ({"to": [TOKEN, "nope"]}, "to[1]", "not an Expo push token"),
        ({"to": "f" * 64}, "to", "APNs"),
        ({"to": "  "}, "to", "whitespace"),
        ({"to": TOKEN, "title": 3}, "title", "must be a string"),
        ({"to": TOKEN, "priority": "urgent"}, "priority", "must be one of"),
        ({"to": TOKEN, "interruptionLevel": "loud"}, "interruptionLevel", "must be one of"),
        ({"to": TOKEN, "badge": -1}, "badge", "non-negative integer"),
        ({"to": TOKEN, "badge": 1.5}, "badge", "non-negative integer"),
        ({"to": TOKEN, "badge": True}, "badge", "non-negative integer"),
        ({"to": TOKEN, "ttl": -5}, "ttl", "non-negative integer"),
        ({"to": TOKEN, "expiration": "soon"}, "expiration", "non-negative integer"),
        ({"to": TOKEN, "sound": 5}, "sound", "must be 'default'"),
        ({"to": TOKEN, "sound": ""}, "sound", "empty string"),
        ({"to": TOKEN, "sound": {"loud": True}}, "sound", "unknown keys"),
        ({"to": TOKEN, "sound": {"critical": "yes"}}, "sound", "'critical'"),
        ({"to": TOKEN, "sound": {"volume": 1.5}}, "sound.volume", "from 0 to 1"),
        ({"to": TOKEN, "data": [1, 2]}, "data", "JSON object"),
        ({"to": TOKEN, "data": {1: "a"}}, "data", "not a string"),
        ({"to": TOKEN, "data": {"a": object()}}, "data", "not a JSON value"),
        ({"to": TOKEN, "data": {"a": [b"\x00\x01"]}}, "data", "holds a bytes"),
        ({"to": TOKEN, "data": {"a": {"b": float("nan")}}}, "data", "JSON cannot carry"),
        ({"to": TOKEN, "data": {"a": {1, 2}}}, "data", "holds a set"),
        ({"to": TOKEN, "badge": 2**31}, "badge", "at most 2147483647"),
        ({"to": TOKEN, "ttl": 2**70}, "ttl", "at most"),
        ({"to": TOKEN, "newField": b"x"}, "extra", "holds a bytes"),
        ({"to": TOKEN, "richContent": "img"}, "richContent", "must be a dict"),
        ({"to": TOKEN, "richContent": {"image": 3}}, "richContent.image", "string URL"),
        ({"to": TOKEN, "mutableContent": "yes"}, "mutableContent", "true or false"),
        ({"to": TOKEN, "relevanceScore": 2}, "relevanceScore", "from 0 to 1"),
    ],
)
def test_every_field_is_validated_with_index_field_and_reason(raw, field, words):
    with pytest.raises(ValidationError) as info:
        prepare_message(raw, 7)
    error = info.value
    assert error.index == 7
    assert error.field == field
    assert words in error.reason
    assert "message 7" in str(error)


def test_valid_sound_forms_are_accepted():
    for sound in ["default", "ping.wav", {"critical": True, "name": "default", "volume": 0.5}]:
        prepare_message({"to": TOKEN, "sound": sound}, 0)


def test_extra_may_not_shadow_a_known_field():
    with pytest.raises(ValidationError, match="set it as channel_id="):
        prepare_message(PushMessage(to=TOKEN, extra={"channelId": "x"}), 0)


def test_payload_over_4096_bytes_is_refused_before_sending():
    data = {"blob": "x" * (MAX_PAYLOAD_BYTES - 10)}
    with pytest.raises(ValidationError) as info:
        prepare_message({"to": TOKEN, "data": data}, 2)
    assert "4096" in str(info.value)
    assert info.value.field == "data"


def test_payload_of_exactly_4096_bytes_is_accepted():
    filler = MAX_PAYLOAD_BYTES - len(b'{"data":{"b":""}}')
    prepared = prepare_message({"to": TOKEN, "data": {"b": "x" * filler}}, 0)
    assert len(prepared.payload) == MAX_PAYLOAD_BYTES


def test_size_check_can_be_skipped_for_the_emulator():
    prepared = prepare_message({"to": TOKEN, "data": {"b": "x" * 5000}}, 0, check_size=False)
    assert len(prepared.payload) > MAX_PAYLOAD_BYTES


def test_validate_method_raises_for_a_bad_message():
    with pytest.raises(ValidationError):
        PushMessage(to="bad").validate()
    PushMessage(to=TOKEN).validate()


def test_narrow_keeps_a_single_recipient_a_string_and_lists_lists():
    message = PushMessage(to=[TOKEN, TOKEN], title="t")
    assert narrow(message, [TOKEN], to_is_list=True).to == [TOKEN]
    assert narrow(PushMessage(to=TOKEN), [TOKEN], to_is_list=False).to == TOKEN


def test_repr_omits_defaults():
    assert repr(PushMessage(to=TOKEN, title="t")) == f"PushMessage(to={TOKEN!r}, title='t')"


def test_every_field_but_to_has_a_check():
    from expo_push._message import _CHECKS

    assert set(_CHECKS) == set(PushMessage.__struct_fields__) - {"to"}


def test_a_string_json_cannot_encode_is_a_validation_error():
    with pytest.raises(ValidationError, match="cannot be encoded as JSON") as info:
        prepare_message({"to": TOKEN, "title": "\ud800"}, 5)
    assert info.value.index == 5
