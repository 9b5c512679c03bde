"""The transport seam: what every transport shares (reading a body within its cap, timeouts, URLs), and what a
client does with a transport of one's own."""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping

import httpx
import pytest

from expo_push import PushClient, PushServerError
from expo_push._h11_transport import route
from expo_push._transport import AnswerTooLarge, BodyReader, Timeout, TransportError, as_timeout
from expo_push._wire import HttpResponse

TOKEN = "ExponentPushToken[transport]"
TICKETS = b'{"data":[{"status":"ok","id":"t-1"}]}'


def _read(body: bytes, encoding: str, limit: int = 1000) -> bytes:
    reader = BodyReader(200, {"content-encoding": encoding}, limit, time.monotonic() + 10)
    for start in range(0, len(body), 7):  # as it comes off the wire, in pieces
        reader.feed(body[start : start + 7])
    return reader.answer().content


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", lambda data: zlib.compress(data, wbits=31)),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw, as some servers send it
        ("identity", lambda data: data),
    ],
)
def test_a_body_is_inflated_whatever_its_encoding(encoding, compress):
    assert _read(compress(TICKETS), encoding) == TICKETS


def test_an_inflated_body_over_the_cap_is_refused_by_its_inflated_size():
    with pytest.raises(AnswerTooLarge):
        _read(zlib.compress(b" " * 1001, wbits=31), "gzip", limit=1000)
    assert _read(zlib.compress(b" " * 1000, wbits=31), "gzip", limit=1000) == b" " * 1000


@pytest.mark.parametrize(("encoding", "reason"), [("br", "unknown content-encoding 'br'"), ("gzip", "DecodingError")])
def test_an_answer_that_cannot_be_decoded_is_malformed_and_not_retried(encoding, reason):
    with pytest.raises(TransportError, match=reason) as info:
        _read(b"not compressed at all", encoding)
    assert info.value.malformed
    assert not info.value.retryable


def test_timeouts_are_taken_as_seconds_or_as_httpx_has_them():
    assert as_timeout(5) == Timeout(5.0, 5.0, 5.0, 5.0)
    assert as_timeout(None) == Timeout(None, None, None, None)
    assert as_timeout(httpx.Timeout(30.0, connect=10.0)) == Timeout(10.0, 30.0, 30.0, 30.0)
    with pytest.raises(ValueError, match="timeout must be"):
        as_timeout("soon")


@pytest.mark.parametrize(
    ("url", "origin", "target", "host"),
    [
        (
            "http://127.0.0.1:8000/--/api/v2/push/send",
            ("http", "127.0.0.1", 8000),
            b"/--/api/v2/push/send",
            b"127.0.0.1:8000",
        ),
        ("HTTPS://exp.host/a?useFcmV1=true", ("https", "exp.host", 443), b"/a?useFcmV1=true", b"exp.host"),
        ("http://[::1]:9/x", ("http", "::1", 9), b"/x", b"[::1]:9"),
        ("http://h", ("http", "h", 80), b"/", b"h"),
    ],
)
def test_a_url_gives_its_origin_target_and_host_header(url, origin, target, host):
    assert route(url, {}) == (origin, target, host)


@pytest.mark.parametrize("url", ["ftp://h/", "http://user@h/", "http://h:port/", "http:///x", "http://hé/"])
def test_a_url_no_transport_can_reach_is_refused_as_never_sent(url):
    with pytest.raises(TransportError) as info:
        route(url, {})
    assert not info.value.sent
    assert not info.value.retryable


class _Canned:
    """A transport of one's own: answers every POST with one ok ticket and records what it was given."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Mapping[str, str], float, int]] = []
        self.closed = False

    def post(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int) -> HttpResponse:
        self.posts.append((url, headers, deadline, limit))
        return HttpResponse(200, {"content-type": "application/json"}, TICKETS)

    def close(self) -> None:
        self.closed = True


def test_a_transport_of_ones_own_carries_every_request_and_is_left_open():
    transport = _Canned()
    before = time.monotonic()
    with PushClient("secret", base_url="http://expo.test", transport=transport, attempt_timeout=7) as client:
        (ticket,) = client.send({"to": TOKEN})
    assert ticket.id == "t-1"
    ((url, headers, deadline, limit),) = transport.posts
    assert url == "http://expo.test/--/api/v2/push/send"
    assert headers["Authorization"] == "Bearer secret"
    assert before + 7 <= deadline <= time.monotonic() + 7
    assert limit == client.max_response_bytes
    assert not transport.closed  # yours to close


def test_http_client_and_transport_are_one_or_the_other():
    with httpx.Client() as http, pytest.raises(TypeError, match="not both"):
        PushClient(http_client=http, transport=_Canned())


def test_a_base_url_no_transport_can_reach_fails_its_request_as_never_sent():
    with PushClient(base_url="ftp://expo.test", max_retries=3) as client, pytest.raises(PushServerError) as info:
        client.send({"to": TOKEN})
    assert "UnsupportedProtocol" in str(info.value)
    assert [m.to for m in info.value.unsent] == [TOKEN]
    assert info.value.in_doubt == []


@pytest.mark.parametrize(("platform", "proxied"), [("darwin", True), ("win32", True), ("linux", False)])
def test_a_system_proxy_counts_where_httpx_reads_one(monkeypatch, platform, proxied) -> None:
    # Found in review: on macOS and Windows httpx takes the system's proxy settings (urllib's getproxies), and
    # the h11 transport went around a proxy the old httpx path had gone through.
    import urllib.request

    from expo_push import _base_client

    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setattr(_base_client.sys, "platform", platform)
    monkeypatch.setattr(urllib.request, "getproxies", lambda: {"https": "http://proxy.example:3128"})
    assert _base_client._proxied() is proxied
