import gzip

import pytest

from expo_push import (
    DeviceNotRegisteredError,
    PushReceiptError,
    PushResponseError,
    PushServerError,
    PushTicketError,
    TooManyRequestsError,
)
from expo_push._chunks import Chunker
from expo_push._service import COMPRESS_OVER
from expo_push._validation import prepare_message
from expo_push._wire import (
    Failed,
    HttpResponse,
    read_receipts_response,
    read_send_response,
    request_body,
    split_by_project,
)

A, B, C = "ExponentPushToken[a]", "ExponentPushToken[b]", "ExponentPushToken[c]"


def entries_for(*tokens):
    """The entries of one chunk holding a message to each of ``tokens``."""
    return next(Chunker([prepare_message({"to": t}, i) for i, t in enumerate(tokens)])).entries


def response(status, body, **headers):
    return HttpResponse(status, headers, body if isinstance(body, bytes) else body.encode())


def test_tickets_get_their_recipient_in_order():
    tickets = read_send_response(
        response(200, '{"data":[{"status":"ok","id":"1"},{"status":"error","message":"m","details":{"error":"X"}}]}'),
        entries_for(A, B),
        0,
    )
    assert [(t.to, t.status, t.id, t.error_code) for t in tickets] == [(A, "ok", "1", None), (B, "error", None, "X")]


def test_a_single_ticket_object_is_accepted():
    tickets = read_send_response(response(200, '{"data":{"status":"ok","id":"9"}}'), entries_for(A), 0)
    assert tickets[0].id == "9"
    assert tickets[0].to == A


def test_ticket_count_mismatch_is_an_error_not_a_misalignment():
    outcome = read_send_response(response(200, '{"data":[{"status":"ok","id":"1"}]}'), entries_for(A, B), 0)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, PushResponseError)
    assert not outcome.retryable
    assert "1 tickets for 2 recipients" in str(outcome.error)


def test_malformed_json_on_200_is_a_response_error():
    outcome = read_send_response(response(200, "{not json"), entries_for(A), 0)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, PushResponseError)


def test_unknown_fields_and_codes_survive_decoding():
    body = '{"data":[{"status":"error","message":"m","details":{"error":"BrandNewCode","fault":"x"},"newField":1}]}'
    (ticket,) = read_send_response(response(200, body), entries_for(A), 0)
    assert ticket.error_code == "BrandNewCode"
    assert ticket.details == {"error": "BrandNewCode", "fault": "x"}
    with pytest.raises(PushTicketError) as info:
        ticket.raise_for_error()
    assert type(info.value) is PushTicketError
    assert info.value.code == "BrandNewCode"
    assert info.value.to == A


def test_known_ticket_code_raises_its_class():
    body = '{"data":[{"status":"error","message":"gone","details":{"error":"DeviceNotRegistered"}}]}'
    (ticket,) = read_send_response(response(200, body), entries_for(A), 0)
    with pytest.raises(DeviceNotRegisteredError) as info:
        ticket.raise_for_error()
    assert isinstance(info.value, PushReceiptError)
    assert info.value.ticket is ticket


def test_429_is_retryable_with_retry_after():
    body = '{"errors":[{"code":"TOO_MANY_REQUESTS","message":"slow down"}]}'
    outcome = read_send_response(response(429, body, **{"retry-after": "3"}), entries_for(A), 0)
    assert isinstance(outcome, Failed)
    assert outcome.retryable
    assert outcome.retry_after == 3
    assert isinstance(outcome.error, TooManyRequestsError)
    assert outcome.error.code == "TOO_MANY_REQUESTS"
    assert outcome.error.status_code == 429


def test_html_502_from_a_proxy_is_retryable():
    outcome = read_send_response(response(502, "<html><body>Bad Gateway</body></html>"), entries_for(A), 0)
    assert isinstance(outcome, Failed)
    assert outcome.retryable
    assert type(outcome.error) is PushServerError
    assert outcome.error.status_code == 502
    assert "without a JSON error body" in outcome.error.message


def test_other_4xx_are_not_retryable_and_keep_every_error():
    body = '{"errors":[{"code":"VALIDATION_ERROR","message":"bad","details":{"f":1}},{"code":"OTHER","message":"x"}]}'
    outcome = read_send_response(response(400, body), entries_for(A), 0)
    assert isinstance(outcome, Failed)
    assert not outcome.retryable
    assert outcome.error.code == "VALIDATION_ERROR"
    assert outcome.error.details == {"f": 1}
    assert len(outcome.error.errors) == 2


def test_errors_in_a_200_body_fail_the_request():
    outcome = read_send_response(
        response(200, '{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}'), entries_for(A), 0
    )
    assert isinstance(outcome, Failed)
    assert outcome.error.code == "UNAUTHORIZED"


def test_receipts_are_keyed_by_id_and_know_their_id():
    receipts = read_receipts_response(
        response(200, '{"data":{"r1":{"status":"ok"},"r2":{"status":"error","details":{"error":"MessageTooBig"}}}}'), 0
    )
    assert receipts["r1"].ok
    assert receipts["r2"].id == "r2"
    assert receipts["r2"].error_code == "MessageTooBig"


def test_split_by_project_groups_tokens_and_keeps_unnamed_ones_apart():
    chunk = next(Chunker([prepare_message({"to": [A, B, C]}, 0)]))
    groups = split_by_project(chunk.entries, {"@o/one": [A, C], "@o/two": [B]})
    assert [(p, [e.recipients for e in g]) for p, g in groups] == [("@o/one", [(A, C)]), ("@o/two", [(B,)])]
    assert [[e.positions for e in g] for _, g in groups] == [[(0, 2)], [(1,)]]
    groups = split_by_project(chunk.entries, {"@o/one": [A]})
    assert [(p, [e.recipients for e in g]) for p, g in groups] == [("@o/one", [(A,)]), (None, [(B, C)])]
    assert split_by_project(chunk.entries, {"@o/one": [A, B, C]}) is None
    assert split_by_project(chunk.entries, "nonsense") is None


def test_bodies_over_1kib_are_gzipped_and_smaller_ones_are_not():
    small = b"[" + b"1," * 100 + b"1]"
    body, headers = request_body(small)
    assert body == small
    assert "Content-Encoding" not in headers
    large = b"[" + b'{"to":"x"},' * COMPRESS_OVER + b"1]"
    body, headers = request_body(large)
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == large
    assert len(body) < len(large)


@pytest.mark.parametrize(
    ("ticket", "words"),
    [
        ('{"status":"ok"}', "has no id"),
        ('{"status":"ok","id":""}', "$.data[1].id"),
        ('{"status":"ok","id":" \\t"}', "$.data[1].id"),
        ('{"status":"maybe","id":"x"}', "$.data[1].status"),
        ('{"status":"OK","id":"x"}', "$.data[1].status"),
        ('{"status":"ok\\n","id":"x"}', "$.data[1].status"),
        ('{"id":"x"}', "status"),
    ],
)
def test_a_ticket_the_protocol_does_not_allow_fails_the_whole_answer(ticket, words):
    body = '{"data":[{"status":"ok","id":"fine"},' + ticket + "]}"
    outcome = read_send_response(response(200, body), entries_for(A, B), 0)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, PushResponseError)
    assert not outcome.retryable
    assert words in str(outcome.error)


@pytest.mark.parametrize(
    "receipt", ['{"status":"maybe"}', '{"status":""}', '{"message":"m"}', '{"status":"error","details":[]}']
)
def test_a_receipt_the_protocol_does_not_allow_fails_the_whole_answer(receipt):
    outcome = read_receipts_response(response(200, '{"data":{"a":{"status":"ok"},"b":' + receipt + "}}"), 0)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, PushResponseError)


def test_ids_of_ok_tickets_that_decode_are_always_ids_get_receipts_accepts():
    from expo_push._batch import check_receipt_ids

    body = '{"data":[{"status":"ok","id":"a"},{"status":"ok","id":" b "},{"status":"error","message":"m"}]}'
    tickets = read_send_response(response(200, body), entries_for(A, B, C), 0)
    assert check_receipt_ids(t.id for t in tickets if t.ok) == ["a", " b "]


def test_a_malformed_ticket_fails_the_request_with_no_ticket_and_its_recipients_in_doubt():
    # The service answered, so it may have taken them: in doubt, as for any malformed answer (the core's rule).
    import httpx

    from expo_push import PushClient, SendAccount

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"status": "ok", "id": "1"}, {"status": "ok"}]})

    transport = httpx.MockTransport(answer)
    client = PushClient(http_client=httpx.Client(transport=transport), rate_limit=None, max_retries=0)
    account = SendAccount()
    with client, pytest.raises(PushResponseError) as info:
        client.send([{"to": A, "title": "x"}, {"to": B, "title": "y"}], account=account)
    assert "has no id" in str(info.value)
    assert info.value.tickets == []
    assert info.value.unsent == []
    assert [(m.to, m.title) for m in info.value.in_doubt] == [(A, "x"), (B, "y")]
    assert account.tickets == []
    assert account.balanced()


def test_the_services_text_is_shown_with_control_characters_escaped():
    from expo_push import PushServerError, PushTicket
    from expo_push._errors import shown_text

    hostile = "\x1b[2J\x1b[31mred\n\u202eevil"
    assert shown_text(hostile) == "\\x1b[2J\\x1b[31mred\\n\\u202eevil"
    assert shown_text("plain café") == "plain café"
    error = PushServerError(f"failed {hostile}", code=f"CODE{hostile}")
    assert error.message == f"failed {hostile}"  # kept as the service said it
    assert str(error).isprintable()
    ticket = PushTicket(status="error", message=hostile, details={"error": "DeviceNotRegistered"})
    with pytest.raises(DeviceNotRegisteredError) as raised:
        ticket.raise_for_error()
    assert str(raised.value) == "DeviceNotRegistered: \\x1b[2J\\x1b[31mred\\n\\u202eevil"
