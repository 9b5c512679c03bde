"""The pytest plugin: its fixtures, the reset between tests, the marker, and its light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

# In-process runs share this process's Django, which tests/django has set up: pytest-django stays out of them.
WITHOUT_DJANGO = ("-p", "no:django")

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def test_fixtures_give_a_fresh_emulator_and_clients_pointed_at_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from expo_push import AsyncPushClient, PushClient

        TOKEN = "ExponentPushToken[plugin]"

        def test_first(expo_emulator, expo_push_client):
            assert isinstance(expo_push_client, PushClient)
            expo_emulator.add_fault("server_error", count=None)
            expo_emulator.script_token(TOKEN, ticket_error="DeviceNotRegistered")
            expo_emulator.rate_limit = 1
            assert expo_push_client.base_url == expo_emulator.url

        def test_second_starts_clean(expo_emulator, expo_push_client):
            assert expo_emulator.faults == []
            assert expo_emulator.rate_limit == 600
            (ticket,) = expo_push_client.send({"to": TOKEN, "title": "hello"})
            assert ticket.ok
            assert expo_emulator.messages(TOKEN) == [{"to": TOKEN, "title": "hello"}]

        async def test_async_client(expo_emulator, async_expo_push_client):
            assert isinstance(async_expo_push_client, AsyncPushClient)
            tickets = await async_expo_push_client.send([{"to": TOKEN}, {"to": TOKEN}])
            assert [t.ok for t in tickets] == [True, True]
            assert expo_emulator.stats.notifications == 2

        def test_same_server_for_the_session(expo_emulator, expo_emulator_server):
            assert expo_emulator is expo_emulator_server

        @pytest.mark.expo_emulator(rate_limit=200, receipt_delay=30, access_tokens=["secret"])
        def test_marker_sets_the_emulator_up(expo_emulator, expo_push_client):
            assert expo_emulator.rate_limit == 200
            assert expo_emulator.receipt_delay == 30
            (ticket,) = expo_push_client.send({"to": TOKEN})
            assert ticket.ok
            assert expo_push_client.get_receipts([ticket.id]) == {}
            expo_emulator.advance(30)
            assert expo_push_client.get_receipts([ticket.id])[ticket.id].ok
        """
    )
    pytester.makeini(INI)
    result = pytester.runpytest("-p", "no:cacheprovider", *WITHOUT_DJANGO)
    result.assert_outcomes(passed=5)


def test_unknown_marker_settings_fail_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.expo_emulator(speed=3)
        def test_it(expo_emulator):
            pass
        """
    )
    pytester.makeini(INI)
    result = pytester.runpytest(*WITHOUT_DJANGO)
    result.assert_outcomes(errors=1)
    assert "unknown expo_emulator settings ['speed']" in result.stdout.str()


def test_loading_the_plugin_imports_neither_hypercorn_nor_the_emulator() -> None:
    code = (
        "import sys, expo_push.pytest_plugin; "
        "print(sorted(m for m in ('hypercorn', 'expo_push.emulator') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_fixture_without_hypercorn_fails_with_the_install_hint(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import sys
        sys.modules["hypercorn"] = None  # as if it were not installed
        for name in [m for m in sys.modules if m.startswith("expo_push.emulator")]:
            del sys.modules[name]
        """
    )
    pytester.makepyfile(
        """
        def test_it(expo_emulator):
            pass
        """
    )
    pytester.makeini(INI)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    assert "pip install 'expo-push[emulator]'" in result.stdout.str()


def test_the_next_test_starts_once_requests_left_running_have_ended(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time
        from concurrent.futures import ThreadPoolExecutor

        import httpx
        import pytest

        TOKEN = "ExponentPushToken[left-running]"
        pool = ThreadPoolExecutor(1)
        running = []

        @pytest.mark.expo_emulator(latency=0.3)
        def test_leaves_a_request_running(expo_emulator):
            running.append(pool.submit(httpx.post, expo_emulator.url + "/--/api/v2/push/send", json={"to": TOKEN}))
            deadline = time.monotonic() + 5
            while expo_emulator.stats.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.002)
            assert expo_emulator.stats.requests == 1

        def test_next_starts_idle_and_clean(expo_emulator):
            assert expo_emulator.wait_idle(timeout=0)
            assert expo_emulator.inbox(TOKEN) == []
            assert expo_emulator.stats.requests == 0
            with pytest.raises(httpx.RemoteProtocolError):
                running[0].result(timeout=5)
            pool.shutdown()
        """
    )
    pytester.makeini(INI)
    result = pytester.runpytest("-p", "no:cacheprovider", *WITHOUT_DJANGO)
    result.assert_outcomes(passed=2)
