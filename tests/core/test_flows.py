"""The request flows driven by hand: every decision is visible as an action, no server, no clock."""

import json

import pytest

from expo_push import PushServerError, PushTicket, RetryPolicy, UnauthorizedError
from expo_push._batch import SendBatch
from expo_push._chunks import Chunker
from expo_push._flows import (
    ChunkFailed,
    FlowContext,
    Hold,
    NotStarted,
    Pace,
    Post,
    Refund,
    Sleep,
    receipts_flow,
    send_flow,
)
from expo_push._validation import prepare_message
from expo_push._wire import HttpResponse, TransportFailure

A, B, C, D = (f"ExponentPushToken[{x}]" for x in "abcd")


def ctx(**kw):
    return FlowContext(RetryPolicy(**kw), rand=lambda: 0.0, now_epoch=lambda: 0.0)


def ok_for(post):
    messages = json.loads(post.body)
    tokens = [t for m in messages for t in ([m["to"]] if isinstance(m["to"], str) else m["to"])]
    return HttpResponse(200, {}, json.dumps({"data": [{"status": "ok", "id": f"id-{t}"} for t in tokens]}).encode())


def drive(flow, answer):
    """Run a flow, answering each Post with answer(post, n); return (actions, result or exception)."""
    actions = []
    result = None
    posts = 0
    try:
        while True:
            action = flow.send(result)
            actions.append(action)
            result = None
            if isinstance(action, Post):
                action.sending()
                result = answer(action, posts)
                posts += 1
    except StopIteration as stop:
        return actions, stop.value
    except Exception as exc:
        return actions, exc


def chunk_of(*messages):
    return next(Chunker([prepare_message(m, i) for i, m in enumerate(messages)]))


def test_each_attempt_is_paced_by_its_notification_count():
    actions, tickets = drive(send_flow(chunk_of({"to": [A, B, C]}), ctx()), lambda p, n: ok_for(p))
    assert actions[0] == Pace(3)
    assert isinstance(actions[1], Post)
    assert [t.to for t in tickets] == [A, B, C]


def test_5xx_and_connection_failures_are_retried_with_backoff():
    answers = [HttpResponse(503, {}, b"<html>down</html>"), TransportFailure("ConnectError"), None]
    actions, tickets = drive(
        send_flow(chunk_of({"to": A}), ctx(jitter=0)), lambda p, n: answers[n] if answers[n] else ok_for(p)
    )
    assert [a for a in actions if isinstance(a, Sleep)] == [Sleep(0.5), Sleep(1.0)]
    assert sum(isinstance(a, Post) for a in actions) == 3
    assert tickets[0].ok


def test_429_holds_the_whole_client_for_retry_after():
    first = HttpResponse(429, {"retry-after": "2"}, b'{"errors":[{"code":"TOO_MANY_REQUESTS","message":"x"}]}')
    actions, tickets = drive(send_flow(chunk_of({"to": A}), ctx()), lambda p, n: first if n == 0 else ok_for(p))
    assert Hold(2.0) in actions
    assert tickets[0].ok


def test_4xx_is_not_retried_and_reports_no_ticket():
    refused = HttpResponse(401, {}, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad token"}]}')
    chunk = chunk_of({"to": [A, B]})
    actions, error = drive(send_flow(chunk, ctx()), lambda p, n: refused)
    assert sum(isinstance(a, Post) for a in actions) == 1
    assert isinstance(error, ChunkFailed)
    assert isinstance(error.error, UnauthorizedError)
    assert chunk.tickets == []
    assert chunk.outcome().unsent[0].message.to == [A, B]  # refused outright: unsent, not in doubt


def test_retries_give_up_after_max_retries():
    actions, error = drive(send_flow(chunk_of({"to": A}), ctx(max_retries=2)), lambda p, n: HttpResponse(500, {}, b""))
    assert sum(isinstance(a, Post) for a in actions) == 3
    assert isinstance(error, ChunkFailed)
    assert error.error.status_code == 500


def test_mixed_projects_are_split_by_the_details_map_and_tickets_keep_input_order():
    def answer(post, n):
        tokens = [t for m in json.loads(post.body) for t in ([m["to"]] if isinstance(m["to"], str) else m["to"])]
        if {A, B} & set(tokens) and {C, D} & set(tokens):
            details = {"@o/one": [t for t in tokens if t in (A, B)], "@o/two": [t for t in tokens if t in (C, D)]}
            body = {"errors": [{"code": "PUSH_TOO_MANY_EXPERIENCE_IDS", "message": "m", "details": details}]}
            return HttpResponse(400, {}, json.dumps(body).encode())
        return ok_for(post)

    chunk = chunk_of({"to": [A, C]}, {"to": D, "title": "x"}, {"to": [B, A]})
    actions, tickets = drive(send_flow(chunk, ctx()), answer)
    posts = [json.loads(a.body) for a in actions if isinstance(a, Post)]
    assert len(posts) == 3
    assert Refund(5) in actions  # the refused request's pacing slot is given back
    assert posts[1] == [{"to": [A]}, {"to": [B, A]}]
    assert posts[2] == [{"to": [C]}, {"to": D, "title": "x"}]
    assert [t.to for t in tickets] == [A, C, D, B, A]
    assert [t.position for t in tickets] == [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)]
    assert chunk.projects == {A: "@o/one", B: "@o/one", C: "@o/two", D: "@o/two"}  # as the service named them


def test_split_can_be_turned_off():
    body = {"errors": [{"code": "PUSH_TOO_MANY_EXPERIENCE_IDS", "message": "m", "details": {"@o/a": [A], "@o/b": [B]}}]}
    refused = HttpResponse(400, {}, json.dumps(body).encode())
    context = ctx()
    context.split_projects = False
    _, error = drive(send_flow(chunk_of({"to": [A, B]}), context), lambda p, n: refused)
    assert isinstance(error, ChunkFailed)
    assert error.error.code == "PUSH_TOO_MANY_EXPERIENCE_IDS"
    assert error.error.details == {"@o/a": [A], "@o/b": [B]}


def test_a_failed_part_of_a_split_keeps_the_tickets_of_the_part_that_went_out():
    def answer(post, n):
        tokens = [m["to"] for m in json.loads(post.body)]
        if n == 0:
            body = {"errors": [{"code": "PUSH_TOO_MANY_EXPERIENCE_IDS", "details": {"@o/a": [A], "@o/b": [B]}}]}
            return HttpResponse(400, {}, json.dumps(body).encode())
        if tokens == [B]:
            return HttpResponse(400, {}, b'{"errors":[{"code":"VALIDATION_ERROR","message":"no"}]}')
        return ok_for(post)

    chunk = chunk_of({"to": A}, {"to": B})
    _, error = drive(send_flow(chunk, ctx()), answer)
    assert isinstance(error, ChunkFailed)
    assert [(t.to, t.position) for t in chunk.tickets] == [(A, (0, 0))]


def test_receipts_flow_posts_ids_and_returns_receipts():
    def answer(post, n):
        assert json.loads(post.body) == {"ids": ["x", "y"]}
        return HttpResponse(200, {}, b'{"data":{"x":{"status":"ok"}}}')

    actions, receipts = drive(receipts_flow(["x", "y"], ctx()), answer)
    assert actions[0] == Pace(0)
    assert list(receipts) == ["x"]


def test_receipts_flow_raises_the_request_error():
    refused = HttpResponse(400, {}, b'{"errors":[{"code":"PUSH_TOO_MANY_RECEIPTS","message":"m"}]}')
    _, error = drive(receipts_flow(["x"], ctx()), lambda p, n: refused)
    assert isinstance(error, PushServerError)
    assert error.code == "PUSH_TOO_MANY_RECEIPTS"


@pytest.mark.parametrize("retryable", [True, False])
def test_undecodable_answers_are_not_retried(retryable):
    failure = TransportFailure("DecodingError", retryable=retryable)
    actions, error = drive(send_flow(chunk_of({"to": A}), ctx(max_retries=1)), lambda p, n: failure)
    assert sum(isinstance(a, Post) for a in actions) == (2 if retryable else 1)
    assert isinstance(error, ChunkFailed)


def _batch_of(n_chunks, whole=False):
    return SendBatch([{"to": f"ExponentPushToken[{i}]"} for i in range(100 * n_chunks)], whole=whole)


def test_a_batch_still_hands_out_earlier_chunks_when_a_later_one_failed_first():
    batch = _batch_of(3)
    first, second, third = batch.next_chunk(), batch.next_chunk(), batch.next_chunk()
    batch.chunk_failed()  # the second chunk failed while the first was still in flight
    tickets = [PushTicket(status="ok", id=str(i), to=t) for i, t in enumerate(first.recipients)]
    assert batch.settle(first, tickets) == tickets
    refused = PushServerError("refused", code="X")
    assert batch.settle(second, ChunkFailed(refused)) == []
    assert batch.settle(third, NotStarted()) == []
    with pytest.raises(PushServerError) as info:
        batch.finish()
    assert info.value.tickets == []
    assert [m.to for m in info.value.unsent] == second.recipients + third.recipients


def test_a_batch_puts_chunks_finished_after_the_failure_into_the_error():
    batch = _batch_of(2)
    first, second = batch.next_chunk(), batch.next_chunk()
    assert batch.settle(first, ChunkFailed(PushServerError("refused"))) == []
    late = [PushTicket(status="ok", id=str(i), to=t) for i, t in enumerate(second.recipients)]
    assert batch.settle(second, late) == []
    with pytest.raises(PushServerError) as info:
        batch.finish()
    assert info.value.tickets == late
    assert [m.to for m in info.value.unsent] == first.recipients


def test_a_whole_batch_error_holds_the_tickets_already_handed_out_and_everything_unsent():
    batch = _batch_of(3, whole=True)
    first, second = batch.next_chunk(), batch.next_chunk()
    handed = [PushTicket(status="ok", id=str(i), to=t) for i, t in enumerate(first.recipients)]
    assert batch.settle(first, handed) == handed
    assert batch.settle(second, ChunkFailed(PushServerError("refused"))) == []
    with pytest.raises(PushServerError) as info:
        batch.finish()
    assert info.value.tickets == handed
    assert [m.to for m in info.value.unsent] == [f"ExponentPushToken[{i}]" for i in range(100, 300)]


def test_a_request_the_client_never_handed_to_io_leaves_its_recipients_unsent():
    chunk = chunk_of({"to": [A, B]})
    flow = send_flow(chunk, ctx())
    assert isinstance(flow.send(None), Pace)
    assert isinstance(flow.send(None), Post)
    flow.close()  # the client raised before sending (its pacer failed, say)
    outcome = chunk.outcome()
    assert not chunk.in_flight
    assert [part.message.to for part in outcome.unsent] == [[A, B]]
    assert outcome.in_doubt == []


def test_a_request_handed_to_io_whose_answer_never_came_is_in_doubt():
    chunk = chunk_of({"to": [A, B]})
    flow = send_flow(chunk, ctx())
    flow.send(None)
    post = flow.send(None)
    post.sending()
    flow.close()  # cancelled while the request was out
    outcome = chunk.outcome()
    assert chunk.in_flight
    assert outcome.unsent == []
    assert [part.message.to for part in outcome.in_doubt] == [[A, B]]


def test_a_failure_that_may_have_delivered_keeps_the_recipients_in_doubt_through_a_retry():
    chunk = chunk_of({"to": A}, {"to": B})
    answers = [TransportFailure("ReadTimeout"), TransportFailure("ConnectError", maybe_delivered=False)]
    _, error = drive(send_flow(chunk, ctx(max_retries=1)), lambda p, n: answers[n])
    assert isinstance(error, ChunkFailed)
    outcome = chunk.outcome()  # the retry surely never got there, but the first attempt may have
    assert outcome.tickets == []
    assert [part.message.to for part in outcome.in_doubt] == [A, B]
    assert outcome.unsent == []


def test_the_chunk_state_refuses_transitions_out_of_order():
    chunk = chunk_of({"to": A})
    state = chunk.state
    with pytest.raises(RuntimeError, match="answered: no request"):
        state.answered([])
    with pytest.raises(RuntimeError, match="failed: no request"):
        state.failed(maybe_delivered=True)
    state.sending(chunk.entries)
    with pytest.raises(RuntimeError, match="one request at a time"):
        state.sending(chunk.entries)
    state.answered([PushTicket(status="ok", id="x", to=A, position=(0, 0))])
    assert [t.id for t in chunk.tickets] == ["x"]
    assert not chunk.in_flight
