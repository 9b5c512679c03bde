"""Send a workload with ``async-expo-push-notifications`` 2.3.1 as its README shows.

``python async_expo_driver.py '<workload JSON>'``, run with the interpreter of
the SDK's own virtual environment: ``async with AsyncPushClient() as client:
await client.publish_multiple(messages)``, which sends chunks concurrently
(10 at once by default). Like the SDK it reimplements, it counts messages, not
recipients, when chunking, so for list messages the driver sets
``max_message_count`` to ``100 // per_message`` (else every request would
carry 10,000 notifications); even so it cannot send them, as it pairs the
n-th ticket with the n-th message and fails with ``IndexError`` on the
second recipient of a list ``to``. A failed chunk makes
``publish_multiple`` raise and every ticket is lost with the exception, so the
caller cannot tell what was not sent.
"""

from __future__ import annotations

import asyncio
import os

import _workload
from exponent_server_sdk import AsyncPushClient, PushMessage  # type: ignore[import-not-found]


async def send(outcome: _workload.Outcome) -> None:
    workload = outcome.workload
    messages = [PushMessage(**raw) for raw in _workload.message_dicts(workload)]
    options = {"max_message_count": max(1, 100 // workload["per_message"])}
    async with AsyncPushClient(host=os.environ["EXPO_BASE_URL"], **options) as client:
        outcome.start()
        try:
            for ticket in await client.publish_multiple(messages):
                outcome.ticket(ticket.is_success())
        except Exception as exc:  # PushServerError, httpx errors: the tickets of the other chunks are gone
            outcome.error(exc, None)
        outcome.stop()


def main() -> int:
    outcome = _workload.Outcome(_workload.load())
    asyncio.run(send(outcome))
    _workload.report(outcome)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
