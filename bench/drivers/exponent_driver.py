"""Send a workload with ``exponent-server-sdk`` 2.2.0 as its README shows: ``PushClient().publish_multiple``.

``python exponent_driver.py '<workload JSON>'``, run with the interpreter of
the SDK's own virtual environment. The SDK sends one chunk of 100 messages
after another. It cannot send a message with a list ``to``: its
``PushMessage.get_payload`` rejects it ("Invalid push token"), so those
workloads end in that error. A failed chunk raises and the tickets of the
chunks before it are lost with the exception, so the caller cannot tell what
was not sent.
"""

from __future__ import annotations

import os

import _workload
from exponent_server_sdk import PushClient, PushMessage  # type: ignore[import-not-found]


def main() -> int:
    workload = _workload.load()
    outcome = _workload.Outcome(workload)
    messages = [PushMessage(**raw) for raw in _workload.message_dicts(workload)]
    client = PushClient(host=os.environ["EXPO_BASE_URL"])
    outcome.start()
    try:
        for ticket in client.publish_multiple(messages):
            outcome.ticket(ticket.is_success())
    except Exception as exc:  # PushServerError, requests' ConnectionError / HTTPError: tickets so far are gone
        outcome.error(exc, None)
    outcome.stop()
    _workload.report(outcome)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
