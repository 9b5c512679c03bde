"""The older SDK's published quickstart runs unchanged but for its import line, against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from expo_push.emulator import Emulator

QUICKSTART = Path(__file__).with_name("quickstart_exponent_server_sdk.py.txt")
OLD_IMPORT = "from exponent_server_sdk import ("
NEW_IMPORT = "from expo_push.compat import ("
ACCESS_TOKEN = "quickstart-access-token"
DEVICE = "ExponentPushToken[quickstartdevice01]"


def migrated_quickstart() -> str:
    """The quickstart as published, with the one import line changed (and nothing else)."""
    original = QUICKSTART.read_text()
    migrated = original.replace(OLD_IMPORT, NEW_IMPORT)
    changed = [(a, b) for a, b in zip(original.splitlines(), migrated.splitlines(), strict=True) if a != b]
    assert changed == [(OLD_IMPORT, NEW_IMPORT)]
    return migrated


def run_quickstart(
    emu: Emulator, tmp_path: Path, access_token: str | None = ACCESS_TOKEN
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "quickstart.py"
    script.write_text(migrated_quickstart())
    env = {**os.environ, "EXPO_BASE_URL": emu.url, "EXPO_PUSH_TOKEN": DEVICE}
    env.pop("EXPO_TOKEN", None)
    if access_token is not None:
        env["EXPO_TOKEN"] = access_token
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60, check=True
    )


@pytest.fixture
def secured_emu(emu: Emulator) -> Emulator:
    emu.set_access_tokens([ACCESS_TOKEN])  # push security on: the session's bearer token must reach the service
    return emu


def test_quickstart_prints_its_success_line(secured_emu: Emulator, tmp_path: Path) -> None:
    result = run_quickstart(secured_emu, tmp_path)
    [delivery] = secured_emu.inbox(DEVICE)
    assert result.stdout == f"Push message sent successfully: {{'status': 'ok', 'id': '{delivery.ticket_id}'}}\n"
    assert delivery.message == {
        "to": DEVICE,
        "data": {"key": "value", "another": "data"},
        "title": "Hello from Python!",
        "body": "This is a test notification from the Expo Server SDK.",
    }


def test_quickstart_reports_a_device_that_is_not_registered(secured_emu: Emulator, tmp_path: Path) -> None:
    secured_emu.script_token(DEVICE, ticket_error="DeviceNotRegistered")
    result = run_quickstart(secured_emu, tmp_path)
    assert result.stdout == f"Error: Device {DEVICE} is not registered. Stop sending messages to this token.\n"


@pytest.mark.parametrize("access_token", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_quickstart_without_an_access_token_sends_with_push_security_off(
    emu: Emulator, tmp_path: Path, access_token: str | None
) -> None:
    result = run_quickstart(emu, tmp_path, access_token)
    [delivery] = emu.inbox(DEVICE)
    assert result.stdout.splitlines() == [
        *(
            ["Warning: EXPO_TOKEN environment variable not set. Push security might be enabled on your Expo account."]
            if not access_token
            else []
        ),
        f"Push message sent successfully: {{'status': 'ok', 'id': '{delivery.ticket_id}'}}",
    ]


@pytest.mark.parametrize("access_token", ["", "  "])
def test_an_empty_access_token_argument_means_no_token(emu: Emulator, access_token: str) -> None:
    from expo_push.compat import PushClient, PushMessage

    client = PushClient(host=emu.url, access_token=access_token)
    try:
        ticket = client.publish(PushMessage(to=DEVICE, body="b"))
    finally:
        client.close()
    assert ticket.is_success()
    assert emu.inbox(DEVICE)[0].message == {"to": DEVICE, "body": "b"}
