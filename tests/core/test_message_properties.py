"""Property tests of message validation: any message is either refused naming its field, or goes out unchanged.

Deterministic (derandomized, no example database) so CI runs the same examples every time.
``EXPO_PUSH_PROPERTY_EXAMPLES`` raises the number of examples for a longer local run.
"""

import json
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expo_push import PushMessage, ValidationError
from expo_push._message import _ATTR_TO_WIRE, _WIRE_TO_ATTR, MAX_JSON_DEPTH, unknown_fields
from expo_push._validation import prepare_message

EXAMPLES = int(os.environ.get("EXPO_PUSH_PROPERTY_EXAMPLES", "900"))
"""Examples per property (the strict one runs half as many): 2,250 in all, about 15 s of CPU."""
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies -----------------------------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
ODD_CHARACTERS = st.sampled_from(["\x00", "\x1f", "\x7f", "\u200b", "\u202e", "\ufeff", "\u2028", "\ue000", " ", "\n"])
# Any code point but surrogates, then strings salted with surrogates and invisible characters.
TEXT = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(exclude_categories=()), max_size=6),
    st.lists(st.one_of(st.characters(), SURROGATES, ODD_CHARACTERS), max_size=6).map("".join),
)
INTEGERS = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**53) - 2, -(2**53) + 2),
    st.integers(2**53 - 2, 2**53 + 2),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**31 - 1, 2**31, 2**63, -(2**63)]),
)
FLOATS = st.one_of(st.floats(), st.sampled_from([3600.0, 3.0, 0.0, -0.0, 0.5, 1e16, float("nan"), float("inf")]))
SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT)
NOT_JSON = st.one_of(
    st.binary(max_size=4),
    st.frozensets(st.integers(0, 3), max_size=2),
    st.sets(st.integers(0, 3), max_size=2),
    st.builds(object),
    st.complex_numbers(max_magnitude=2),
)
JSON_LIKE = st.recursive(
    st.one_of(SCALARS, NOT_JSON),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(TEXT, inner, max_size=3),
        st.dictionaries(st.one_of(st.integers(0, 3), st.none()), inner, min_size=1, max_size=2),
    ),
    max_leaves=8,
)


@st.composite
def deeply_nested(draw):
    depth = draw(st.integers(MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH + 2) | st.integers(1000, 1600))
    value = draw(SCALARS)
    lists_every = draw(st.sampled_from([2, 3, 1000]))  # lists among the dicts, or dicts only
    for level in range(depth - 1):
        value = [value] if level % lists_every == 1 else {"k": value}
    return {"k": value}


JSON_OBJECTS = st.one_of(st.dictionaries(TEXT, JSON_LIKE, max_size=4), deeply_nested())

GOOD_TOKENS = st.sampled_from(
    [
        "ExponentPushToken[aaaaaaaaaaaaaaaaaaaaaa]",
        "ExpoPushToken[b-1_Z]",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "ExponentPushToken[ñandú]",
    ]
)
ODD_TOKENS = st.one_of(
    st.builds(lambda inside: f"ExponentPushToken[{inside}]", TEXT),
    st.integers(240, 300).map(lambda n: "ExponentPushToken[" + "a" * n + "]"),
    TEXT,
    st.just("f" * 64),
)
TOKENS = st.one_of(GOOD_TOKENS, ODD_TOKENS)
TO = st.one_of(TOKENS, st.lists(TOKENS, max_size=4), st.tuples(TOKENS, TOKENS), SCALARS)

VALID_VALUES = {
    "title": TEXT,
    "body": TEXT,
    "subtitle": TEXT,
    "data": JSON_OBJECTS,
    "ttl": st.one_of(st.integers(0, 2**53), st.floats(0, 2.0**54)),
    "expiration": st.one_of(st.integers(0, 2**53), st.floats(0, 2.0**54)),
    "badge": st.one_of(st.integers(-2, 2**31), st.floats(-1, 2.0**32)),
    "priority": st.sampled_from(["default", "normal", "high", "urgent", "HIGH"]),
    "interruptionLevel": st.sampled_from(["active", "critical", "passive", "time-sensitive", "loud"]),
    "sound": st.one_of(
        st.sampled_from(["default", "ping.wav", ""]),
        st.fixed_dictionaries(
            {},
            optional={"critical": st.booleans(), "name": TEXT, "volume": st.floats(-0.5, 1.5) | FLOATS},
        ),
        st.dictionaries(st.sampled_from(["critical", "name", "volume", "loud", 1]), JSON_LIKE, max_size=3),
    ),
    "channelId": TEXT,
    "categoryId": TEXT,
    "mutableContent": st.booleans(),
    "_contentAvailable": st.booleans(),
    "contentAvailable": st.booleans(),
    "richContent": st.one_of(
        st.fixed_dictionaries({"image": st.one_of(TEXT, SCALARS)}), JSON_OBJECTS, st.sampled_from(["img", 3])
    ),
    "icon": TEXT,
    "collapseId": TEXT,
    "tag": TEXT,
    "threadId": TEXT,
    "targetContentId": TEXT,
    "filterCriteria": TEXT,
    "relevanceScore": st.one_of(st.floats(-0.5, 1.5), FLOATS, INTEGERS),
}
MISSPELT = ["channel_id", "Title", "interruption_level", "rich-content", "TTL", "category_id", "mutable_content"]
# A key of a message: a known field (often), a known field misspelt, or anything.
KEYS = st.one_of(
    st.sampled_from(sorted(VALID_VALUES)),
    st.sampled_from(sorted(VALID_VALUES)),
    st.sampled_from(MISSPELT),
    TEXT,
    st.sampled_from(["titel", "bdy", "newField", "extra", ""]),
    st.integers(0, 2),
)


@st.composite
def message_dicts(draw):
    message = {}
    if draw(st.integers(0, 19)):  # now and then a message without a recipient
        message["to"] = draw(TO)
    for key in draw(st.lists(KEYS, max_size=6, unique_by=repr)):
        if key in VALID_VALUES and draw(st.integers(0, 3)):
            message[key] = draw(VALID_VALUES[key])
        else:
            message[key] = draw(JSON_LIKE)
    return message


# --- the property ---------------------------------------------------------------------------------


def same(sent, received):
    """Whether JSON ``received`` is exactly ``sent``: same types (a tuple goes as a list), same values, -0.0 kept."""
    if isinstance(sent, (list, tuple)):
        return (
            isinstance(received, list)
            and len(sent) == len(received)
            and all(same(a, b) for a, b in zip(sent, received, strict=True))
        )
    if isinstance(sent, dict):
        return (
            isinstance(received, dict)
            and sent.keys() == received.keys()
            and all(same(v, received[k]) for k, v in sent.items())
        )
    if isinstance(sent, float):
        return type(received) is float and sent == received and math.copysign(1, sent) == math.copysign(1, received)
    return type(sent) is type(received) and sent == received


def field_root(field):
    """The key a field path starts with: ``to`` of ``to[1]``, ``sound`` of ``sound.volume``."""
    for mark in "[.":
        if mark in field and not field.startswith(mark):
            field = field.split(mark, 1)[0]
    return field


def prepared_or_refusal(message, index, **options):
    """What ``prepare_message`` gives: the prepared message, or the ``ValidationError`` it raised."""
    try:
        return prepare_message(message, index, **options)
    except ValidationError as error:
        return error


def check_refusal(error, message, index):
    assert error.index == index
    assert isinstance(error.field, str)
    assert error.field
    # The field names a key of the message, a known field, or (for a non-string key) that key's repr.
    keys = {shown for k in message for shown in ((k, repr(k)) if isinstance(k, str) else (repr(k),))}
    root = field_root(error.field)
    assert root in keys or root in _WIRE_TO_ATTR or root == "extra" or error.field in keys, error
    str(error).encode("utf-8")  # the message can always be printed or logged


@PROPERTY
@given(message=message_dicts(), index=st.integers(0, 10**6))
def test_a_dict_message_is_refused_naming_its_field_or_goes_out_exactly_as_given(message, index):
    prepared = prepared_or_refusal(message, index)
    if isinstance(prepared, ValidationError):
        check_refusal(prepared, message, index)
        return
    to = message["to"]
    assert prepared.recipients == ((to,) if isinstance(to, str) else tuple(to))
    # A known field set to None is a field left unset, as in PushMessage: it is omitted, not sent as null.
    expected = {
        ("_contentAvailable" if k == "contentAvailable" else k): v
        for k, v in message.items()
        if k != "to" and not (v is None and k in _WIRE_TO_ATTR)
    }
    received = json.loads(prepared.payload)
    assert same(expected, received), (expected, received)
    # What went out has no misspelt known field, and unknown_fields finds exactly the unknown keys.
    assert set(unknown_fields(message)) == set(expected) - set(_WIRE_TO_ATTR)


@settings(PROPERTY, max_examples=max(1, EXAMPLES // 2))
@given(message=message_dicts(), index=st.integers(0, 100))
def test_strict_mode_goes_out_only_with_known_fields(message, index):
    prepared = prepared_or_refusal(message, index, strict=True)
    if isinstance(prepared, ValidationError):
        check_refusal(prepared, message, index)
        return
    assert set(json.loads(prepared.payload)) <= set(_WIRE_TO_ATTR)


ATTRIBUTE_VALUES = {attr: VALID_VALUES[wire] for wire, attr in _WIRE_TO_ATTR.items() if wire in VALID_VALUES}


@st.composite
def push_messages(draw):
    fields = {}
    for attr in draw(st.lists(st.sampled_from(sorted(ATTRIBUTE_VALUES)), max_size=5, unique=True)):
        fields[attr] = draw(ATTRIBUTE_VALUES[attr]) if draw(st.integers(0, 3)) else draw(JSON_LIKE)
    if draw(st.booleans()):
        fields["extra"] = draw(
            st.one_of(st.dictionaries(st.one_of(TEXT, st.sampled_from(MISSPELT)), JSON_LIKE, max_size=2), JSON_LIKE)
        )
    return PushMessage(to=draw(TO), **fields)


@PROPERTY
@given(message=push_messages(), index=st.integers(0, 100))
def test_a_push_message_is_refused_naming_its_field_or_goes_out_exactly_as_given(message, index):
    prepared = prepared_or_refusal(message, index)
    if isinstance(prepared, ValidationError):
        assert prepared.index == index
        assert prepared.field
        root = field_root(prepared.field)
        assert root in _WIRE_TO_ATTR or root == "extra", prepared
        str(prepared).encode("utf-8")
        return
    expected = {
        _ATTR_TO_WIRE[attr]: getattr(message, attr)
        for attr in _ATTR_TO_WIRE
        if attr != "to" and getattr(message, attr) is not None
    }
    expected.update(message.extra or {})
    assert same(expected, json.loads(prepared.payload))


# A dict of known fields only, in any order, now and then with a field set to None: the messages that
# prepare_message checks in one pass (_prepare_plain) before trying the full path.
PLAIN_KEYS = sorted(set(VALID_VALUES) - {"contentAvailable"})
PLAIN_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
TYPICAL_VALUES = {
    **dict.fromkeys(PLAIN_KEYS, PLAIN_TEXT),
    "data": st.dictionaries(PLAIN_TEXT, st.one_of(PLAIN_TEXT, st.integers(-(10**6), 10**6), st.booleans()), max_size=3),
    **dict.fromkeys(("ttl", "expiration", "badge"), st.one_of(st.integers(0, 10**6), st.just(3600.0))),
    "priority": st.sampled_from(["default", "normal", "high"]),
    "interruptionLevel": st.sampled_from(["active", "critical", "passive", "time-sensitive"]),
    "sound": st.sampled_from(["default", {"critical": True, "volume": 0.5}]),
    **dict.fromkeys(("mutableContent", "_contentAvailable"), st.booleans()),
    "richContent": st.fixed_dictionaries({"image": PLAIN_TEXT}),
    "relevanceScore": st.floats(0, 1),
}
PLAIN_TOKENS = st.sampled_from(["ExponentPushToken[aaaaaaaaaaaaaaaaaaaaaa]", "ExpoPushToken[b-1_Z]"])


@st.composite
def plain_dicts(draw):
    to = draw(st.one_of(PLAIN_TOKENS, st.lists(PLAIN_TOKENS, min_size=1, max_size=3), TOKENS))
    message = {"to": to}
    for key in draw(st.lists(st.sampled_from(PLAIN_KEYS), max_size=6, unique=True)):
        kind = draw(st.integers(0, 7))
        message[key] = None if not kind else draw(VALID_VALUES[key] if kind == 1 else TYPICAL_VALUES[key])
    items = list(message.items())
    order = draw(st.permutations(range(len(items))))
    return {items[i][0]: items[i][1] for i in order}


@PROPERTY
@given(message=st.one_of(plain_dicts(), message_dicts()), index=st.integers(0, 100))
def test_a_dict_message_checked_in_one_pass_goes_out_exactly_as_by_the_full_path(message, index):
    from types import MappingProxyType

    one_pass = prepared_or_refusal(message, index)
    full = prepared_or_refusal(MappingProxyType(message), index)  # not a dict: the full path only
    if isinstance(full, ValidationError):
        assert isinstance(one_pass, ValidationError)
        assert (str(one_pass), one_pass.field, one_pass.index) == (str(full), full.field, full.index)
        return
    assert not isinstance(one_pass, ValidationError), one_pass
    assert (one_pass.payload, one_pass.recipients, one_pass.to_is_list) == (
        full.payload,
        full.recipients,
        full.to_is_list,
    )
    assert one_pass.message == full.message
