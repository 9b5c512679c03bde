"""manage.py expo_push_worker and expo_push_receipts: sending the outbox, stopping on a signal, two workers
sharing the rate budget, and dead tokens deactivating their devices."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections, transaction

from expo_push._service import DEVICE_NOT_REGISTERED, RATE_LIMIT
from expo_push._signals import exit_status
from expo_push.django import notify, register_device, status
from expo_push.django.models import PushDevice
from expo_push.django.testing import send_outbox

from .conftest import token

MANAGE = Path(__file__).with_name("manage.py")


def _worker(alias: str, emulator_url: str, *extra: str) -> subprocess.Popen[str]:
    """``manage.py expo_push_worker`` as a process of its own, on the test's database and the emulator."""
    databases = {alias: {"NAME": connections[alias].settings_dict["NAME"]}}
    if alias == "postgres":
        databases[alias]["PORT"] = connections[alias].settings_dict["PORT"]
    env = {
        **os.environ,
        "EXPO_PUSH_TEST_DATABASES": json.dumps(databases),
        "EXPO_PUSH_TEST_SETTINGS": json.dumps({"DATABASE": alias}),
        "EXPO_BASE_URL": emulator_url,  # EXPO_PUSH has no BASE_URL: the environment's is the default
    }
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "expo_push_worker", *extra],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def _lines(process: subprocess.Popen[str], into: queue.Queue[tuple[int, str]], number: int) -> threading.Thread:
    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            into.put((number, line))
        into.put((number, ""))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def _sent(line: str) -> int | None:
    """The count of a worker's "N sent, M skipped" line."""
    if " sent, " not in line:
        return None
    return int(line.split(": ", 1)[1].split(" sent")[0].replace(",", ""))


def test_the_worker_sends_what_was_committed_and_stops_on_sigterm(alias, user, expo_push_emulator):
    register_device(user, token("phone"))
    with transaction.atomic(using=alias):
        notify(user, {"title": "Hello"}, key="hello")

    worker = _worker(alias, expo_push_emulator.url, "--poll-interval", "0.1")
    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    _lines(worker, lines, 0)
    try:
        while True:
            _, line = lines.get(timeout=60)
            assert line, "the worker ended before sending"
            if _sent(line) == 1:
                break
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == exit_status(signal.SIGTERM)  # 143, as expo-push worker
    finally:
        worker.kill()
    rest = []
    while (line := lines.get(timeout=10)[1]) != "":
        rest.append(line)
    assert rest[-1].strip() == "expo_push_worker: stopped: terminated (SIGTERM)"
    assert expo_push_emulator.messages(token("phone")) == [{"to": token("phone"), "title": "Hello"}]
    assert status("hello").state == "sent"


@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_two_workers_on_one_postgresql_share_the_rate_budget(settings, expo_push_emulator):
    settings.EXPO_PUSH = {"DATABASE": "postgres"}
    expo_push_emulator.rate_limit = RATE_LIMIT
    count = 1200  # two seconds of the service's budget
    with transaction.atomic(using="postgres"):
        assert notify([token(f"many-{i}") for i in range(count)], {"body": "sale"}, key="sale").enqueued == count

    workers = [_worker("postgres", expo_push_emulator.url, "--batch-size", "100", "--poll-interval", "0.1")]
    workers.append(_worker("postgres", expo_push_emulator.url, "--batch-size", "100", "--poll-interval", "0.1"))
    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    for number, worker in enumerate(workers):
        _lines(worker, lines, number)
    sent = [0, 0]
    try:
        while sum(sent) < count:
            number, line = lines.get(timeout=60)
            assert line, f"worker {number} ended early"
            sent[number] = _sent(line) or sent[number]
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        assert [worker.wait(timeout=60) for worker in workers] == [exit_status(signal.SIGTERM)] * 2
    finally:
        for worker in workers:
            worker.kill()
    stats = expo_push_emulator.stats
    assert (stats.notifications, stats.duplicates, stats.rate_limited) == (count, 0, 0)
    assert min(sent) > 0, f"one worker did all the work: {sent}"


def test_a_dead_token_found_by_the_receipts_command_deactivates_its_device(alias, user, expo_push_emulator):
    register_device(user, token("old-phone"))
    register_device(user, token("new-phone"))
    expo_push_emulator.script_token(token("old-phone"), receipt_error=DEVICE_NOT_REGISTERED)
    with transaction.atomic(using=alias):
        notify(user, {"title": "Hi"}, key="hi")
    send_outbox()

    out = io.StringIO()
    call_command("expo_push_receipts", "--now", stdout=out)

    assert DEVICE_NOT_REGISTERED in out.getvalue()
    devices = dict(PushDevice.objects.using(alias).values_list("token", "active"))
    assert devices == {token("old-phone"): False, token("new-phone"): True}
    assert PushDevice.objects.using(alias).get(token=token("old-phone")).deactivated_reason == DEVICE_NOT_REGISTERED
    by_token = {d.token: d for d in status("hi").devices}
    assert (by_token[token("old-phone")].state, by_token[token("old-phone")].error) == ("failed", DEVICE_NOT_REGISTERED)
    assert by_token[token("new-phone")].state == "delivered"


def test_a_dead_token_in_a_ticket_deactivates_its_device_and_registering_again_revives_it(
    alias, user, expo_push_emulator
):
    register_device(user, token("phone"))
    expo_push_emulator.script_token(token("phone"), ticket_error=DEVICE_NOT_REGISTERED)
    with transaction.atomic(using=alias):
        notify(user, {"title": "One"}, key="one")
    send_outbox()
    assert not PushDevice.objects.using(alias).get(token=token("phone")).active

    expo_push_emulator.script_token(token("phone"))  # the app was installed again, same token
    register_device(user, token("phone"))
    with transaction.atomic(using=alias):
        assert notify(user, {"title": "Two"}, key="two").enqueued == 1
    send_outbox()
    assert [m["title"] for m in expo_push_emulator.messages(token("phone"))] == ["Two"]


@pytest.mark.django_db
def test_the_worker_refuses_a_batch_size_of_zero_saying_so():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--batch-size"):
        call_command("expo_push_worker", "--batch-size", "0")
