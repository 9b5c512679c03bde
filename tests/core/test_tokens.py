import pytest

from expo_push import is_expo_push_token
from expo_push._tokens import token_problem


@pytest.mark.parametrize(
    "token",
    [
        "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]",
        "ExpoPushToken[abc-123_XYZ]",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    ],
)
def test_documented_token_forms_are_accepted(token):
    assert is_expo_push_token(token)
    assert token_problem(token) is None


@pytest.mark.parametrize(
    "token",
    [
        "ExponentPushToken[]",
        "ExponentPushToken[a b]",
        "ExponentPushToken[abc",
        "exponentpushtoken[abc]",
        "abc",
        42,
        None,
    ],
)
def test_other_strings_and_types_are_rejected(token):
    assert not is_expo_push_token(token)
    assert token_problem(token)


def test_raw_apns_device_token_gets_a_specific_hint():
    assert "APNs device token" in token_problem("a" * 64)


def test_raw_fcm_token_gets_a_specific_hint():
    assert "FCM registration token" in token_problem("dGhpcyBpcyBm:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx")


@pytest.mark.parametrize("token", ["", "   ", "\t\n"])
def test_empty_or_whitespace_token_says_so(token):
    assert "empty or only whitespace" in token_problem(token)


def test_token_with_surrounding_whitespace_says_to_strip():
    assert "strip" in token_problem(" ExponentPushToken[abc] ")


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("ExponentPushToken[ab\x00c]", "U+0000"),
        ("ExponentPushToken[ab\u200bc]", "U+200B (ZERO WIDTH SPACE)"),
        ("ExponentPushToken[\u202eabc]", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("ExponentPushToken[abc\ufeff]", "U+FEFF"),
        ("ExponentPushToken[ab\x7fc]", "control character"),
        ("ExponentPushToken[ab\u2028c]", "line separator"),
        ("ExponentPushToken[ab\ue000c]", "private-use"),
        ("ExponentPushToken[\ud800abc]", "lone surrogate"),
        ("ExponentPushToken[a b]", "U+0020 (SPACE)"),
        ("\ud800", "lone surrogate"),
    ],
)
def test_control_format_surrogate_and_space_characters_are_named(token, words):
    assert not is_expo_push_token(token)
    assert words in token_problem(token)


def test_tokens_longer_than_the_bound_are_refused_whatever_their_shape():
    from expo_push._tokens import MAX_TOKEN_LENGTH

    fits = "ExponentPushToken[" + "a" * (MAX_TOKEN_LENGTH - 19) + "]"
    assert len(fits) == MAX_TOKEN_LENGTH
    assert is_expo_push_token(fits)
    too_long = "ExponentPushToken[" + "a" * (MAX_TOKEN_LENGTH - 18) + "]"
    assert not is_expo_push_token(too_long)
    assert f"at most {MAX_TOKEN_LENGTH}" in token_problem(too_long)


def test_printable_non_ascii_inside_the_brackets_stays_accepted():
    assert is_expo_push_token("ExponentPushToken[ñandú-1]")
