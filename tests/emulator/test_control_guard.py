"""The control routes refuse what another web page makes a browser send, and take a control token when given one."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from expo_push.emulator import Emulator

from .conftest import SEND, token

CONTROL = "/--/emulator"

# What a page on another site makes the browser send with a "simple" POST: no preflight, so only
# the server's refusal stops it (tried: such a page set the latency to 100,000 ms and added a drop).
CROSS_SITE = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}


def test_a_simple_cross_origin_post_is_refused_and_changes_nothing(emu: Emulator, http: httpx.Client) -> None:
    latency = http.post(f"{CONTROL}/config", content=b'{"latency": 100000}', headers=CROSS_SITE)
    fault = http.post(f"{CONTROL}/faults", content=b'{"kind": "drop"}', headers=CROSS_SITE)
    reset = http.post(f"{CONTROL}/reset", headers=CROSS_SITE)
    assert [r.status_code for r in (latency, fault, reset)] == [403, 403, 403]
    assert latency.json()["errors"][0]["code"] == "FORBIDDEN"
    assert emu.latency == 0
    assert emu.faults == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},  # a browser that does not send Sec-Fetch-* headers
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Sec-Fetch-Site": "same-site"},  # another port of localhost is another origin
        {"Origin": "http://127.0.0.1:1"},
    ],
)
def test_other_origins_are_refused_on_every_control_route(
    emu: Emulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    for method, route in (("POST", "advance"), ("GET", "stats"), ("GET", "feed"), ("DELETE", "faults")):
        response = http.request(method, f"{CONTROL}/{route}", json={"seconds": 5}, headers=headers)
        assert response.status_code == 403, (method, route)
    assert emu.now() == pytest.approx(1000.0)


def test_the_emulators_own_origin_and_non_browser_clients_are_served(emu: Emulator, http: httpx.Client) -> None:
    own = {"Origin": emu.url, "Sec-Fetch-Site": "same-origin"}
    assert http.post(f"{CONTROL}/advance", json={"seconds": 5}, headers=own).status_code == 200
    assert http.post(f"{CONTROL}/advance", json={"seconds": 5}, headers={"Sec-Fetch-Site": "none"}).status_code == 200
    assert http.post(f"{CONTROL}/advance", json={"seconds": 5}).status_code == 200  # curl, httpx, other SDKs' tests
    assert emu.now() == pytest.approx(1015.0)


def test_a_host_name_that_is_not_loopback_is_refused_on_loopback(emu: Emulator, http: httpx.Client) -> None:
    # DNS rebinding: evil.example resolving to 127.0.0.1 makes its page "same-origin" with the emulator.
    port = urlsplit(emu.url).port
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert http.get(f"{CONTROL}/feed", headers=rebound).status_code == 403
    assert http.get(f"{CONTROL}/feed", headers={"Host": f"localhost:{port}"}).status_code == 200


def test_the_push_api_is_not_guarded(http: httpx.Client) -> None:
    # The service itself takes requests from anywhere; only the emulator's own routes are guarded.
    assert http.post(SEND, json={"to": token(1)}, headers={"Origin": "http://evil.example"}).status_code == 200


def test_a_control_token_is_required_when_given() -> None:
    with Emulator(control_token="c0ntrol") as emu, httpx.Client(base_url=emu.url) as http:
        refused = http.post(f"{CONTROL}/reset")
        assert refused.status_code == 401
        assert "c0ntrol" not in refused.text
        assert (
            http.post(f"{CONTROL}/faults", json={"kind": "drop"}, headers={"X-Emulator-Token": "nope"}).status_code
            == 401
        )
        assert emu.faults == []
        assert http.get(f"{CONTROL}/stats", headers={"X-Emulator-Token": "c0ntrol"}).status_code == 200
        assert http.get(f"{CONTROL}/stats", headers={"Authorization": "Bearer c0ntrol"}).status_code == 200
        assert http.get(f"{CONTROL}/stats?token=c0ntrol").status_code == 200
        assert http.post(SEND, json={"to": token(1)}).status_code == 200  # the push API needs no control token
        assert "c0ntrol" not in repr(emu)
