import json

import pytest

from expo_push import MAX_PAYLOAD_BYTES, PushMessage, ValidationError
from expo_push._message import narrow
from expo_push._validation import prepare_message

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
    from expo_push._validation import _CHECKS

    assert set(_CHECKS) == set(PushMessage.__struct_fields__) - {"to"}


def test_a_string_json_cannot_encode_is_a_validation_error():
    with pytest.raises(ValidationError, match="cannot be encoded as JSON") as info:
        prepare_message({"to": TOKEN, "title": "\ud800"}, 5)
    assert info.value.index == 5


def _refusal(raw, index=3):
    with pytest.raises(ValidationError) as info:
        prepare_message(raw, index)
    assert info.value.index == index
    return info.value


def _nested(depth):
    """A dict nested ``depth`` deep (the outer dict is depth 1)."""
    value = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_data_nested_deeper_than_the_limit_is_refused_not_a_recursion_error():
    from expo_push._message import MAX_JSON_DEPTH

    prepare_message({"to": TOKEN, "data": _nested(MAX_JSON_DEPTH)}, 0)
    error = _refusal({"to": TOKEN, "data": _nested(MAX_JSON_DEPTH + 1)})
    assert error.field == "data"
    assert f"nested more than {MAX_JSON_DEPTH} deep" in error.reason
    error = _refusal({"to": TOKEN, "data": _nested(1500)})
    assert error.field == "data"


def test_lists_count_towards_the_depth_limit_too():
    from expo_push._message import MAX_JSON_DEPTH

    value = [1]
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    assert _refusal({"to": TOKEN, "richContent": {"deep": value}}).field == "richContent"


@pytest.mark.parametrize(("field", "value"), [("priority", []), ("interruptionLevel", {}), ("priority", {"a": 1})])
def test_unhashable_values_for_choice_fields_are_a_validation_error(field, value):
    error = _refusal({"to": TOKEN, field: value})
    assert error.field == field
    assert "must be one of" in error.reason


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"image": "https://example.invalid/a.png", "n": float("nan")}, "JSON cannot carry"),
        ({"b": b"\x00"}, "holds a bytes"),
        ({"s": {1, 2}}, "holds a set"),
        ({"big": 2**53}, "beyond the 9007199254740991"),
        ({1: "a"}, "not a string"),
    ],
)
def test_rich_content_is_checked_as_json_like_data(value, words):
    error = _refusal({"to": TOKEN, "richContent": value})
    assert error.field == "richContent"
    assert words in error.reason


@pytest.mark.parametrize("field", ["data", "extra"])
@pytest.mark.parametrize("number", [2**53, -(2**53), 2**64, -(2**70)])
def test_integers_a_double_cannot_hold_exactly_are_refused_in_json_fields(field, number):
    raw = {"to": TOKEN, "data": {"n": [number]}} if field == "data" else {"to": TOKEN, "newField": {"n": number}}
    error = _refusal(raw)
    assert error.field == field
    assert str(number) in error.reason
    assert "send it as a string" in error.reason


def test_integers_up_to_the_safe_bound_go_out_exactly():
    prepared = prepare_message({"to": TOKEN, "data": {"max": 2**53 - 1, "min": -(2**53 - 1)}}, 0)
    assert json.loads(prepared.payload) == {"data": {"max": 2**53 - 1, "min": -(2**53 - 1)}}


def test_the_error_says_where_in_data_the_bad_value_is():
    error = _refusal({"to": TOKEN, "data": {"order": {"lines": [1, float("inf")]}}})
    assert "at data['order']['lines'][1]" in error.reason


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"to": TOKEN, "title": "a\ud800"}, "title"),
        ({"to": TOKEN, "body": "\udfff"}, "body"),
        ({"to": TOKEN, "data": {"k": ["\ud800"]}}, "data"),
        ({"to": TOKEN, "data": {"\udc00": 1}}, "data"),
        ({"to": TOKEN, "sound": {"name": "\ud83d"}}, "sound"),
        ({"to": TOKEN, "newField": "\ud800"}, "extra"),
    ],
)
def test_a_lone_surrogate_anywhere_is_refused_naming_the_field(raw, field):
    error = _refusal(raw)
    assert error.field == field
    assert "lone surrogate" in error.reason
    str(error).encode()  # the message itself can be printed


def test_a_token_with_a_lone_surrogate_is_refused_before_anything_is_sent():
    error = _refusal({"to": [TOKEN, "ExponentPushToken[\ud800abc]"]})
    assert error.field == "to[1]"
    assert "surrogate" in error.reason
    str(error).encode()


@pytest.mark.parametrize(
    "token", ["ExponentPushToken[a\x00b]", "ExponentPushToken[a\u200bb]", "ExponentPushToken[\u202eab]"]
)
def test_tokens_with_invisible_characters_are_refused_and_shown_escaped(token):
    error = _refusal({"to": token})
    assert error.field == "to"
    assert "\\x00" in str(error) or "\\u200b" in str(error) or "\\u202e" in str(error)


def test_a_huge_token_is_refused_without_repeating_it_whole():
    error = _refusal({"to": "ExponentPushToken[" + "a" * 1_000_000 + "]"})
    assert error.field == "to"
    assert "at most 256" in error.reason
    assert len(str(error)) < 300


@pytest.mark.parametrize(("field", "value"), [("ttl", 3600.0), ("expiration", 1.7e9), ("badge", 3.0), ("badge", 0.0)])
def test_integral_floats_are_accepted_for_counts_as_the_service_reads_numbers_as_doubles(field, value):
    prepared = prepare_message({"to": TOKEN, field: value}, 0)
    assert json.loads(prepared.payload) == {field: value}


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("ttl", 3600.5, "non-negative integer"),
        ("badge", float("nan"), "non-negative integer"),
        ("ttl", float("inf"), "non-negative integer"),
        ("badge", -1.0, "non-negative integer"),
        ("badge", 2.0**31, "at most 2147483647"),
        ("ttl", 2.0**60, "at most"),
    ],
)
def test_fractional_non_finite_or_out_of_range_floats_are_refused_for_counts(field, value, words):
    error = _refusal({"to": TOKEN, field: value})
    assert error.field == field
    assert words in error.reason


def test_sound_with_keys_of_mixed_types_is_a_validation_error():
    error = _refusal({"to": TOKEN, "sound": {1: True, "loud": True}})
    assert error.field == "sound"
    assert "unknown keys" in error.reason


def test_a_key_that_is_not_a_string_is_named():
    error = _refusal({"to": TOKEN, 3: "x"})
    assert error.field == "3"
    assert "not a string" in error.reason


def test_an_oversized_payload_names_the_largest_field():
    error = _refusal({"to": TOKEN, "title": "t", "body": "x" * MAX_PAYLOAD_BYTES})
    assert error.field == "body"


# --- misspelt and unknown fields ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "right"),
    [
        ("channel_id", "channelId"),
        ("Title", "title"),
        ("ChannelID", "channelId"),
        ("interruption_level", "interruptionLevel"),
        ("content_available", "_contentAvailable"),
        ("rich-content", "richContent"),
        ("TTL", "ttl"),
    ],
)
def test_a_known_field_in_another_case_or_form_is_refused_with_the_right_name(key, right):
    error = _refusal({"to": TOKEN, key: "x"})
    assert error.field == key
    assert repr(right) in error.reason


def test_a_snake_case_name_in_extra_is_refused_too():
    with pytest.raises(ValidationError) as info:
        prepare_message(PushMessage(to=TOKEN, extra={"channel_id": "orders"}), 0)
    assert info.value.field == "extra.channel_id"
    assert "channel_id=" in info.value.reason


def test_other_unknown_fields_go_out_unless_strict():
    assert json.loads(prepare_message({"to": TOKEN, "titel": "x"}, 0).payload) == {"titel": "x"}
    with pytest.raises(ValidationError) as info:
        prepare_message({"to": TOKEN, "titel": "x"}, 2, strict=True)
    assert (info.value.index, info.value.field) == (2, "titel")
    assert "did you mean 'title'?" in info.value.reason


def test_strict_names_an_unknown_field_without_a_near_one():
    with pytest.raises(ValidationError) as info:
        prepare_message({"to": TOKEN, "zork": 1}, 0, strict=True)
    assert info.value.field == "zork"
    assert "did you mean" not in info.value.reason


def test_strict_leaves_fields_set_in_extra_alone():
    prepared = prepare_message(PushMessage(to=TOKEN, extra={"futureField": 1}), 0, strict=True)
    assert json.loads(prepared.payload) == {"futureField": 1}


def test_unknown_fields_lists_each_with_its_nearest_known_name():
    from expo_push._message import unknown_fields

    found = unknown_fields({"to": TOKEN, "titel": "c", "bdy": "x", "channel_id": "o", "zork": 1, "title": "t"})
    assert found == {"titel": "title", "bdy": "body", "channel_id": "channelId", "zork": None}
    assert unknown_fields({"to": TOKEN, "contentAvailable": True, "_contentAvailable": True}) == {}


def test_content_available_given_under_both_its_names_is_refused():
    error = _refusal({"to": TOKEN, "contentAvailable": True, "_contentAvailable": False})
    assert error.field == "_contentAvailable"
    assert "twice" in error.reason


# --- strict_fields on the clients -----------------------------------------------------------------


def _recording_transport(requests):
    import httpx

    def answer(request):
        requests.append(json.loads(request.content))
        count = sum(len(m["to"]) if isinstance(m["to"], list) else 1 for m in requests[-1])
        return httpx.Response(200, json={"data": [{"status": "ok", "id": f"id-{i}"} for i in range(count)]})

    return httpx.MockTransport(answer)


def test_a_strict_client_refuses_an_unknown_field_before_any_request():
    import httpx

    from expo_push import PushClient

    requests = []
    with httpx.Client(transport=_recording_transport(requests)) as http:
        with PushClient(http_client=http, rate_limit=None, strict_fields=True) as client:
            with pytest.raises(ValidationError) as info:
                client.send([{"to": TOKEN, "title": "fine"}, {"to": TOKEN, "titel": "x"}])
            assert (info.value.index, info.value.field) == (1, "titel")
            assert "did you mean 'title'?" in info.value.reason
            assert requests == []
        with PushClient(http_client=http, rate_limit=None) as client:
            client.send({"to": TOKEN, "titel": "x"})
    assert requests == [[{"to": TOKEN, "titel": "x"}]]


async def test_a_strict_async_client_refuses_an_unknown_field_before_any_request():
    import httpx

    from expo_push import AsyncPushClient

    requests = []
    http = httpx.AsyncClient(transport=_recording_transport(requests))
    async with AsyncPushClient(http_client=http, rate_limit=None, strict_fields=True) as client:
        with pytest.raises(ValidationError) as info:
            await client.send({"to": TOKEN, "channel": "orders"})
        assert info.value.field == "channel"
        assert "'channelId'" in info.value.reason
    assert requests == []
    await http.aclose()


def test_every_client_refuses_a_known_field_in_snake_case():
    import httpx

    from expo_push import PushClient

    requests = []
    client = PushClient(http_client=httpx.Client(transport=_recording_transport(requests)), rate_limit=None)
    with client, pytest.raises(ValidationError, match="channelId"):
        client.send({"to": TOKEN, "channel_id": "orders"})
    assert requests == []


def test_with_options_keeps_strict_fields():
    from expo_push import PushClient

    with PushClient(strict_fields=True, base_url="http://127.0.0.1:9") as client:
        assert client.with_options(max_retries=0).strict_fields


def test_of_several_bad_fields_the_first_in_field_order_is_named_whatever_the_input_order():
    # The one-pass check of dicts and the check of set fields only must not change which error a caller sees.
    with pytest.raises(ValidationError) as from_dict:
        prepare_message({"to": TOKEN, "badge": -1, "title": 3}, 0)
    with pytest.raises(ValidationError) as from_struct:
        prepare_message(PushMessage(to=TOKEN, badge=-1, title=3), 0)  # type: ignore[arg-type]
    assert from_dict.value.field == from_struct.value.field == "title"
