"""Both clients over HTTP/2, the protocol the service speaks, against the emulator: h2c with prior knowledge and TLS.

Over TLS the protocol is chosen by ALPN, as with the service: the clients' default (HTTP/2 offered)
must land on HTTP/2, and a client that offers HTTP/1.1 only must still be served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from expo_push import AsyncPushClient, PushClient, PushConnectionError
from expo_push.emulator import Emulator

MESSAGES = [{"to": f"ExponentPushToken[h2-{i}]", "title": "over HTTP/2", "data": {"i": i}} for i in range(1000)]


@pytest.fixture(scope="module")
def cleartext() -> Iterator[Emulator]:
    with Emulator(rate_limit=None, access_tokens=["h2-token"]) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def tls() -> Iterator[Emulator]:
    with Emulator(rate_limit=None, access_tokens=["h2-token"], tls=True) as emulator:
        yield emulator


def check(tickets: list[Any], emu: Emulator, version: str = "2") -> None:
    assert [t.to for t in tickets] == [m["to"] for m in MESSAGES]
    assert all(t.ok for t in tickets)
    # Every ticket is a delivery of its own message. At least once, not exactly once: on a loaded machine
    # hypercorn now and then drops a new HTTP/2 connection over TLS with streams on it, and the client's
    # retry of a request the emulator had taken delivers it twice (the service is at-least-once too).
    for message, ticket in zip(MESSAGES, tickets, strict=True):
        assert ticket.id in [d.ticket_id for d in emu.inbox(message["to"])]
    requests = [emu.request(n) for n in range(1, 11)]
    assert [r["httpVersion"] for r in requests if r] == [version] * 10
    assert sorted(len(r["body"]) for r in requests if r) == [100] * 10
    headers = requests[0]["headers"] if requests[0] else {}
    assert headers["content-encoding"] == "gzip"
    assert headers["user-agent"].startswith("expo-push-python/")


def test_the_sync_client_over_h2c_with_prior_knowledge(cleartext: Emulator) -> None:
    cleartext.reset()
    http = httpx.Client(http1=False, http2=True)  # prior knowledge: HTTP/2 without TLS
    with http, PushClient("h2-token", base_url=cleartext.url, rate_limit=None, http_client=http) as client:
        check(client.send(MESSAGES), cleartext)


def test_the_async_client_over_h2c_with_prior_knowledge(cleartext: Emulator) -> None:
    cleartext.reset()

    async def run() -> list[Any]:
        http = httpx.AsyncClient(http1=False, http2=True)
        async with http, AsyncPushClient("h2-token", base_url=cleartext.url, rate_limit=None, http_client=http) as c:
            return await c.send(MESSAGES)

    check(asyncio.run(run()), cleartext)


def test_the_sync_client_over_tls_negotiates_http2(tls: Emulator) -> None:
    tls.reset()
    assert tls.url.startswith("https://")
    http = httpx.Client(http2=True, verify=tls.ssl_context())
    with http, PushClient("h2-token", base_url=tls.url, rate_limit=None, http_client=http) as client:
        check(client.send(MESSAGES), tls)
        (receipt,) = client.get_receipts([tls.inbox(MESSAGES[0]["to"])[0].ticket_id]).values()
        assert receipt.ok


def test_the_async_client_over_tls_negotiates_http2(tls: Emulator) -> None:
    tls.reset()

    async def run() -> list[Any]:
        http = httpx.AsyncClient(http2=True, verify=tls.ssl_context())
        async with http, AsyncPushClient("h2-token", base_url=tls.url, rate_limit=None, http_client=http) as c:
            return await c.send(MESSAGES)

    check(asyncio.run(run()), tls)


@pytest.mark.parametrize("trust", ["path", "context"])
def test_verify_trusts_the_emulators_ca_without_a_client_of_ones_own(tls: Emulator, trust: str) -> None:
    tls.reset()
    assert tls.ca_file is not None
    verify = tls.ca_file if trust == "path" else tls.ssl_context()
    with PushClient("h2-token", base_url=tls.url, rate_limit=None, verify=verify) as client:
        check(client.send(MESSAGES), tls)


def test_without_verify_the_emulators_certificate_is_refused(tls: Emulator) -> None:
    with PushClient("h2-token", base_url=tls.url, max_retries=0) as client, pytest.raises(PushConnectionError) as info:
        client.send(MESSAGES[0])
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert info.value.unsent  # no TLS session, so nothing reached the service


@pytest.mark.parametrize("client_class", [PushClient, AsyncPushClient])
@pytest.mark.parametrize("verify", [False, 0, b"yes"])
def test_verify_false_is_refused_never_turning_certificate_checks_off(client_class, verify) -> None:
    # Found in review: AsyncPushClient(verify=False) sent to a service whose certificate it could not check,
    # and PushClient crashed mid-send with an AttributeError counted in doubt.
    with pytest.raises(TypeError, match=r"verify must be a CA file's path or an ssl\.SSLContext"):
        client_class(base_url="https://127.0.0.1:9", verify=verify)


def test_a_ca_file_that_cannot_be_read_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="cannot read the CA file"):
        PushClient(base_url="https://127.0.0.1:9", verify=str(tmp_path / "missing.pem"))


def test_a_client_offering_http11_only_is_served_over_tls(tls: Emulator) -> None:
    tls.reset()
    http = httpx.Client(http1=True, http2=False, verify=tls.ssl_context())
    with http, PushClient("h2-token", base_url=tls.url, rate_limit=None, http_client=http) as client:
        check(client.send(MESSAGES), tls, version="1.1")


def test_a_client_that_does_not_trust_the_ca_is_refused(tls: Emulator) -> None:
    with httpx.Client(http2=True) as http, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        http.post(tls.url + "/--/api/v2/push/send", json={"to": "ExponentPushToken[x]"})


def test_the_ca_file_is_a_pem_certificate_removed_at_stop() -> None:
    emu = Emulator(tls=True)
    with emu:
        assert emu.ca_file is not None
        path = emu.ca_file
        with open(path) as ca:
            assert ca.read().startswith("-----BEGIN CERTIFICATE-----")
    assert emu.ca_file is None
    with pytest.raises(FileNotFoundError):
        open(path).close()


def test_a_drop_fault_over_http2_resets_the_stream_and_the_connection_goes_on(cleartext: Emulator) -> None:
    cleartext.reset()
    cleartext.add_fault("drop")
    auth = {"Authorization": "Bearer h2-token"}
    with httpx.Client(http1=False, http2=True, base_url=cleartext.url, headers=auth) as h:
        with pytest.raises(httpx.RemoteProtocolError):
            h.post("/--/api/v2/push/send", json={"to": "ExponentPushToken[a]"})
        assert h.post("/--/api/v2/push/send", json={"to": "ExponentPushToken[b]"}).status_code == 200
    assert cleartext.stats.dropped == 1
    assert cleartext.tokens() == ["ExponentPushToken[b]"]


def test_one_http2_connection_carries_more_than_a_thousand_requests(cleartext: Emulator) -> None:
    # hypercorn's default closes a connection after 1,000 requests with a GOAWAY that fails the streams in
    # flight; the service keeps its connections, and so must the emulator.
    with httpx.Client(http1=False, http2=True, headers={"Authorization": "Bearer h2-token"}) as http:
        statuses = {
            http.post(cleartext.url + "/--/api/v2/push/getReceipts", json={"ids": ["none"]}).status_code
            for _ in range(1_050)
        }
    assert statuses == {200}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_without_the_http2_extra_the_clients_speak_http11_over_tls_with_h11(
    tls: Emulator, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expo_push import _base_client
    from expo_push._h11_async_transport import AsyncH11Transport
    from expo_push._h11_transport import H11Transport

    monkeypatch.setattr(_base_client, "_h2_installed", lambda: False)
    tls.reset()
    assert tls.ca_file is not None
    if kind == "sync":
        with PushClient("h2-token", base_url=tls.url, rate_limit=None, verify=tls.ca_file) as client:
            assert isinstance(client._transport, H11Transport)
            check(client.send(MESSAGES), tls, version="1.1")
        return

    async def run() -> list[Any]:
        async with AsyncPushClient("h2-token", base_url=tls.url, rate_limit=None, verify=tls.ca_file) as client:
            assert isinstance(client._transport, AsyncH11Transport)
            return await client.send(MESSAGES)

    check(asyncio.run(run()), tls, version="1.1")


def test_a_proxy_named_by_the_environment_is_gone_through_as_httpx_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from expo_push._httpx_transport import HttpxTransport

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with PushClient(base_url="https://exp.host") as client:
        assert isinstance(client._transport, HttpxTransport)
        assert client._transport.http._mounts  # httpx mounted the environment's proxy


def test_one_requests_deadline_does_not_fail_another_on_the_same_http2_connection(tls: Emulator) -> None:
    # Found in review: httpcore reads an HTTP/2 connection for every stream on it from whichever thread holds its
    # read lock, and a read error is raised on every stream; a read cut to one request's deadline failed the
    # requests beside it, whose deadlines were far off (and they were then counted in doubt and retried).
    import time
    from concurrent.futures import ThreadPoolExecutor, wait

    from expo_push._httpcore_transport import HttpcoreTransport
    from expo_push._transport import DEFAULT_TIMEOUT, TransportError

    transport = HttpcoreTransport(timeout=DEFAULT_TIMEOUT, ssl_context=tls.ssl_context(), max_connections=1)
    url = tls.url + "/--/api/v2/push/send"
    headers = {"content-type": "application/json", "authorization": "Bearer h2-token"}

    def post(n: int, seconds: float) -> int:
        body = b'{"to": "ExponentPushToken[h2-deadline-%d]"}' % n
        return transport.post(url, body, headers, time.monotonic() + seconds, 1 << 20).status_code

    try:
        assert post(0, 10) == 200  # the connection is up, and speaks HTTP/2
        tls.add_fault("stall", count=2)
        with ThreadPoolExecutor(2) as pool:
            short = pool.submit(post, 1, 0.5)
            assert tls.wait_for_stalls(1)  # the short one is out, its thread reading the connection
            long = pool.submit(post, 2, 30)
            assert tls.wait_for_stalls(2)
            # Past the short one's deadline: on the code before, its cut read failed both here.
            wait([short], timeout=2)
            tls.release_stalls()
            assert long.result(timeout=30) == 200
            outcome = short.exception(timeout=30)  # its answer came after its deadline: a timeout, or in time
        assert outcome is None or isinstance(outcome, TransportError)
        last = tls.request(tls.stats.requests)
        assert last is not None
        assert last["httpVersion"] == "2"
    finally:
        transport.close()
