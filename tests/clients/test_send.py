"""Both clients against a scripted service: ordering, headers, compression, concurrency, failures."""

from __future__ import annotations

import httpx
import pytest

from expo_push import (
    PushClient,
    PushConnectionError,
    PushMessage,
    PushResponseError,
    PushServerError,
    SendAccount,
    ValidationError,
    __version__,
)

from .conftest import tok


def refuse(code: str = "VALIDATION_ERROR", status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": "refused"}]})


def recipients_of(messages: list[PushMessage]) -> list[str]:
    return [t for m in messages for t in m.recipients]


def test_one_ticket_per_recipient_in_input_order(harness, service):
    messages = [{"to": tok(i), "title": "t"} for i in range(130)]
    messages.append(PushMessage(to=[tok(f"L{i}") for i in range(150)], body="b"))
    messages.append({"to": tok("last")})
    tickets = harness().send(messages)
    assert [t.to for t in tickets] == [tok(i) for i in range(130)] + [tok(f"L{i}") for i in range(150)] + [tok("last")]
    assert all(t.ok and t.id == f"id-{t.to}" for t in tickets)
    assert sorted(len(s.tokens) for s in service.sends) == [81, 100, 100]  # requests run side by side


def test_a_single_message_may_be_passed_alone(harness):
    assert [t.to for t in harness().send({"to": tok(1)})] == [tok(1)]
    assert [t.to for t in harness().send(PushMessage(to=[tok(1), tok(2)]))] == [tok(1), tok(2)]


def test_headers_name_the_sdk_and_carry_the_access_token(harness, service):
    harness(access_token="secret-token").send({"to": tok(1)})
    headers = service.sends[0].headers
    assert headers["user-agent"] == f"expo-push-python/{__version__}"
    assert headers["authorization"] == "Bearer secret-token"
    assert "gzip" in headers["accept-encoding"]
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"


def test_no_authorization_header_without_a_token(harness, service):
    harness().send({"to": tok(1)})
    assert "authorization" not in service.sends[0].headers


def test_bodies_over_1kib_are_gzipped(harness, service):
    harness().send([{"to": tok(i), "body": "x" * 50} for i in range(30)] + [{"to": tok("small")}])
    assert service.sends[0].headers["content-encoding"] == "gzip"
    assert len(service.sends[0].raw) < 1024


def test_small_bodies_are_sent_plain(harness, service):
    harness().send({"to": tok(1)})
    assert "content-encoding" not in service.sends[0].headers


def test_requests_in_flight_never_exceed_max_concurrency(harness, service):
    service.latency = 0.01
    tickets = harness(max_concurrency=3).send([{"to": tok(i)} for i in range(2000)])
    assert len(tickets) == 2000
    assert service.max_in_flight == 3


def test_access_token_never_shows_in_repr_or_errors(kind, service):
    service.plan = lambda seen, n: refuse("UNAUTHORIZED", 401)
    from .conftest import Harness

    h = Harness(kind, service, access_token="very-secret")
    with pytest.raises(PushServerError) as info:
        h.send({"to": tok(1)})
    assert "very-secret" not in str(info.value)
    assert "very-secret" not in repr(info.value)
    client = PushClient("very-secret", base_url="http://expo.test")
    assert "very-secret" not in repr(client)
    assert "access_token=<set>" in repr(client)
    client.close()


def test_base_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EXPO_BASE_URL", "http://127.0.0.1:9/")
    with PushClient() as client:
        assert client.base_url == "http://127.0.0.1:9"
    monkeypatch.delenv("EXPO_BASE_URL")
    with PushClient() as client:
        assert client.base_url == "https://exp.host"


def test_malformed_message_raises_before_any_request(harness, service):
    messages = [{"to": tok(i)} for i in range(500)] + [{"to": tok(1), "badge": "three"}]
    with pytest.raises(ValidationError) as info:
        harness().send(messages)
    assert info.value.index == 500
    assert info.value.field == "badge"
    assert service.seen == []


def test_retry_after_is_honoured(harness, service):
    def plan(seen, n):
        if n == 0:
            return httpx.Response(429, headers={"Retry-After": "0.2"}, json={"errors": [{"code": "TOO_MANY_REQUESTS"}]})
        return None

    service.plan = plan
    tickets = harness().send({"to": tok(1)})
    assert tickets[0].ok
    assert len(service.sends) == 2
    assert service.sends[1].at - service.sends[0].at >= 0.2


@pytest.mark.parametrize(
    "failure",
    [
        lambda: httpx.Response(503, text="<html>Service Unavailable</html>"),
        lambda: httpx.Response(500, json={"errors": [{"code": "INTERNAL_SERVER_ERROR", "message": "x"}]}),
        lambda: httpx.Response(502),
    ],
)
def test_5xx_answers_are_retried_until_accepted(harness, service, failure):
    service.plan = lambda seen, n: failure() if n < 2 else None
    tickets = harness().send([{"to": tok(i)} for i in range(3)])
    assert [t.ok for t in tickets] == [True, True, True]
    assert len(service.sends) == 3


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_transport_failures_are_retried(harness, service, error):
    def plan(seen, n):
        if n == 0:
            raise error("boom")
        return None

    service.plan = plan
    assert harness().send({"to": tok(1)})[0].ok
    assert len(service.sends) == 2


def test_a_request_failing_for_good_raises_with_its_cause(harness, service):
    def plan(seen, n):
        raise httpx.ConnectError("refused")

    service.plan = plan
    with pytest.raises(PushConnectionError) as info:
        harness().send({"to": tok(1)})
    assert len(service.sends) == 4  # 1 + max_retries=3
    assert [m.to for m in info.value.unsent] == [tok(1)]
    assert info.value.tickets == []


def test_4xx_are_not_retried(harness, service):
    service.plan = lambda seen, n: refuse()
    with pytest.raises(PushServerError) as info:
        harness().send({"to": tok(1)})
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.status_code == 400
    assert len(service.sends) == 1


def test_partial_failure_keeps_every_accepted_ticket_and_exactly_the_unsent(harness, service):
    service.plan = lambda seen, n: refuse() if tok(250) in seen.tokens else None
    messages = [{"to": tok(i), "title": f"n{i}"} for i in range(200)]
    messages.append({"to": [tok(i) for i in range(200, 300)], "title": "list"})
    messages += [{"to": tok(i)} for i in range(300, 600)]
    with pytest.raises(PushServerError) as info:
        harness(max_concurrency=2).send(messages)
    error = info.value
    accepted = [t.to for t in error.tickets]
    unsent = recipients_of(error.unsent)
    assert accepted[:200] == [tok(i) for i in range(200)]
    assert accepted == sorted(accepted, key=lambda t: int(t[18:-1]))  # still in input order
    assert tok(250) in unsent
    assert sorted(accepted + unsent) == sorted(tok(i) for i in range(600))
    assert not set(accepted) & set(unsent)
    list_part = next(m for m in error.unsent if m.title == "list")
    assert list_part.to == [tok(i) for i in range(200, 300)]
    assert "accepted" in str(error)


def test_resending_unsent_completes_the_batch(harness, service):
    failing = {"on": True}
    service.plan = lambda seen, n: refuse() if failing["on"] and tok(150) in seen.tokens else None
    h = harness()
    with pytest.raises(PushServerError) as info:
        h.send([{"to": tok(i)} for i in range(400)])
    failing["on"] = False
    rest = h.send(info.value.unsent)
    assert sorted(t.to for t in info.value.tickets + rest) == sorted(tok(i) for i in range(400))


def test_ticket_count_mismatch_is_not_retried_and_reports_the_chunk_in_doubt(harness, service):
    # The service answered, so it may have taken them: neither accepted nor safely unsent.
    service.plan = lambda seen, n: httpx.Response(200, json={"data": [{"status": "ok", "id": "x"}]})
    with pytest.raises(PushResponseError) as info:
        harness().send([{"to": tok(1)}, {"to": tok(2)}])
    assert len(service.sends) == 1
    assert info.value.unsent == []
    assert recipients_of(info.value.in_doubt) == [tok(1), tok(2)]
    assert info.value.account.in_doubt_positions == [(0, 0), (1, 0)]
    assert info.value.account.balanced()


def test_mixed_projects_are_split_and_sent(harness, service):
    project = {tok(i): "@o/even" if i % 2 == 0 else "@o/odd" for i in range(10)}

    def plan(seen, n):
        projects: dict[str, list[str]] = {}
        for t in seen.tokens:
            projects.setdefault(project[t], []).append(t)
        if len(projects) > 1:
            return httpx.Response(
                400, json={"errors": [{"code": "PUSH_TOO_MANY_EXPERIENCE_IDS", "message": "m", "details": projects}]}
            )
        return None

    service.plan = plan
    tickets = harness().send([{"to": tok(i)} for i in range(10)])
    assert [t.to for t in tickets] == [tok(i) for i in range(10)]
    assert all(t.ok for t in tickets)
    assert [sorted(s.tokens) for s in service.sends[1:]] == [
        sorted(tok(i) for i in range(0, 10, 2)),
        sorted(tok(i) for i in range(1, 10, 2)),
    ]


def test_iter_send_takes_a_generator_and_yields_in_order(harness, service):
    tickets = harness().iter_send({"to": tok(i)} for i in range(1234))
    assert [t.to for t in tickets] == [tok(i) for i in range(1234)]
    assert len(service.sends) == 13


def test_iter_send_sends_everything_before_a_malformed_message_then_raises(kind, service):
    from .conftest import Harness

    def messages():
        yield from ({"to": tok(i)} for i in range(150))
        yield {"to": "not-a-token"}
        yield {"to": tok("never")}

    got: list[str] = []
    h = Harness(kind, service)
    if kind == "sync":
        with h._sync() as client, pytest.raises(ValidationError) as info:
            got.extend(t.to for t in client.iter_send(messages()))
    else:
        import asyncio

        async def run() -> None:
            async with h._async() as client:
                async for t in client.iter_send(messages()):
                    got.append(t.to)

        with pytest.raises(ValidationError) as info:
            asyncio.run(run())
    assert info.value.index == 150
    assert got == [tok(i) for i in range(150)]
    assert tok("never") not in [t for s in service.sends for t in s.tokens]


def test_receipts_are_fetched_in_requests_of_at_most_1000(harness, service):
    ids = [f"r{i}" for i in range(2500)]
    receipts = harness().get_receipts([*ids, "r0"])
    assert set(receipts) == set(ids)
    assert receipts["r7"].id == "r7"
    assert sorted(len(s.body["ids"]) for s in service.seen) == [500, 1000, 1000]


def test_missing_receipts_are_absent(harness, service):
    service.plan = lambda seen, n: httpx.Response(200, json={"data": {"a": {"status": "ok"}}})
    assert list(harness().get_receipts(["a", "b"])) == ["a"]


def test_a_failed_receipts_request_keeps_the_receipts_fetched(harness, service):
    service.plan = lambda seen, n: refuse() if "r1500" in seen.body["ids"] else None
    with pytest.raises(PushServerError) as info:
        harness().get_receipts([f"r{i}" for i in range(2000)])
    assert len(info.value.receipts) == 1000


def test_bad_receipt_ids_are_refused_before_sending(harness, service):
    with pytest.raises(ValidationError, match="ticket id 1"):
        harness().get_receipts(["ok", ""])
    assert service.seen == []


def test_messages_must_be_messages(harness):
    with pytest.raises(ValidationError, match="not str"):
        harness().send("ExponentPushToken[abc]")


@pytest.mark.parametrize("token", ["secret\n", " secret", "sec ret", "sécret"])
def test_a_malformed_access_token_is_refused_without_echoing_it(token):
    with pytest.raises(ValueError, match="access_token") as info:
        PushClient(token, base_url="http://expo.test")
    if token.strip():
        assert token.strip() not in str(info.value)


def test_an_empty_access_token_means_none(service):
    from .conftest import Harness

    client = Harness("sync", service, access_token="")._sync()
    client.send({"to": tok(1)})
    assert "authorization" not in {k.lower() for k in service.sends[0].headers}


def test_transport_error_text_never_carries_the_access_token():
    attempts = []

    def refuse_to_send(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.LocalProtocolError("Illegal header value b'Bearer s3cr3t-value'")

    http = httpx.Client(transport=httpx.MockTransport(refuse_to_send))
    with (
        PushClient("s3cr3t-value", base_url="http://expo.test", http_client=http) as client,
        pytest.raises(PushServerError) as info,
    ):
        client.send({"to": tok(1)})
    description = str(info.value)
    assert "http://expo.test/--/api/v2/push/send" in description
    assert [m.to for m in info.value.unsent] == [tok(1)]  # never sent
    assert "s3cr3t-value" not in description
    assert "cannot be written as HTTP" in description  # the library's own words, which quote it, are not shown
    assert len(attempts) == 1  # a request this side cannot send is not retried


def test_stopping_early_stops_retries_in_flight_and_says_what_went_out(service, caplog):
    import threading
    import time

    from .conftest import Harness

    refused = threading.Event()

    def plan(seen, n):
        if tok(0) in seen.tokens:
            return None
        refused.set()
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"errors": [{"code": "TOO_MANY_REQUESTS"}]})

    service.plan = plan
    # One request at a time: the first chunk is accepted, the second is refused and waits 30 s to retry.
    client = Harness("sync", service, retry_policy=None, max_concurrency=1)._sync()
    account = SendAccount()
    tickets = client.iter_send(({"to": tok(i)} for i in range(1000)), account=account)
    with caplog.at_level("WARNING", logger="expo_push"):
        first = next(tickets)
        assert refused.wait(10)
        started = time.monotonic()
        tickets.close()  # as `break` does
        client.close()  # waits for the pool: the 30 s hold must end at once
    assert first.to == tok(0)
    assert time.monotonic() - started < 10
    assert len(service.sends) == 2
    assert account.done
    assert account.balanced()
    assert len(account.tickets) == 100
    assert account.in_doubt == []
    assert f"accepted 100, not sent {account.read - 100}, in doubt 0 of {account.read} read" in caplog.text


def test_with_options_makes_a_cheap_copy_sharing_connections_and_pacing(service):
    from .conftest import Harness

    service.plan = lambda seen, n: refuse("INTERNAL_SERVER_ERROR", 503)
    base = Harness("sync", service, access_token="tok-1", rate_limit=600)._sync()
    quick = base.with_options(max_retries=0)
    assert quick.max_retries == 0
    assert base.max_retries == 3
    assert quick._transport is base._transport
    assert quick._pacer is base._pacer
    with pytest.raises(PushServerError):
        quick.send({"to": tok(1)})
    assert len(service.sends) == 1  # no retry
    assert service.sends[0].headers["authorization"] == "Bearer tok-1"
    quick.close()
    assert not base._transport.closed  # the copy does not close the shared pool
    assert base.with_options(rate_limit=None)._pacer is not base._pacer
    with pytest.raises(TypeError, match="unknown options"):
        base.with_options(max_retry=1)
    base.close()
