"""The delivery ledger: every ticket stored, receipts checked when due, dead tokens reported, an outbox.

Expo asks every sender to fetch push receipts (about 15 minutes after
sending, within 24 hours) and to stop sending to tokens that come back
``DeviceNotRegistered``. The ledger does both, in a SQLite file (standard
library, no set-up) or in PostgreSQL (``pip install expo-push[postgres]``,
for workers on several machines)::

    from expo_push import PushClient
    from expo_push.ledger import Ledger

    ledger = Ledger.open("push.db")                   # or "postgresql://user@host/db"
    with PushClient() as client:
        tickets = ledger.send(client, messages, keys=["order-17", ...])   # sent and recorded

        # every few minutes (cron, or ledger.watch_receipts(client, stop_event, interval=60)):
        summary = ledger.check_receipts(client)       # receipts due 15 min after sending, in 1000s
        for dead in ledger.dead_tokens(since=last_run):
            my_db.delete_token(dead.token)            # DeviceNotRegistered: stop sending to it
        ledger.forget_dead(token)                     # the app registered that token again

Recording: ``send(client, messages, keys=None)`` sends and records every
ticket (token, ticket id, status, error code, time sent, your key, and the
message, kept to resend after ``MessageRateExceeded``); ``record(tickets,
key=...)`` records tickets of a send made elsewhere. ``await send_async(client,
messages)`` does the same with an ``AsyncPushClient``.

Receipts: ``check_receipts(client)`` / ``await check_receipts_async(client)``
fetch the receipts that are due (``receipt_delay``, 15 minutes by default),
ask again after ``recheck_interval`` for those not ready, and give up after
``receipt_retention`` (24 hours). ``watch_receipts(client, stop, interval)``
runs checks until a ``threading.Event`` is set (``watch_receipts_async`` with
an ``asyncio.Event``). Checks may run side by side: each claims the receipts
it asks for (until ``recheck_interval``), so none is asked or counted twice.
``pending_receipts()`` lists what is still waiting.

Dead tokens: ``DeviceNotRegistered`` in a ticket or a receipt marks the token
dead (``dead_tokens(since=None)``, ``on_dead_token=`` callback); ``send`` and
the outbox skip dead tokens (``skip_dead_tokens=True``); ``forget_dead(token)``
revives one. ``MessageRateExceeded`` schedules a resend through the outbox,
waiting ``rate_retry_delay`` doubling, at most ``max_rate_retries`` times.
``InvalidCredentials`` and ``MismatchSenderId`` are logged at ERROR and passed
to ``on_config_error=`` once per code, not once per notification.

Outbox: ``enqueue(messages, keys=...)`` stores notifications and returns at
once (a key enqueued twice is sent once); ``run_worker(client, stop,
batch_size=500, poll_interval=1.0)`` sends them until ``stop`` is set, and
``drain(client)`` sends what is ready and returns. Delivery is at-least-once:
a worker killed mid-send loses nothing; its claimed rows are sent again when
a worker next starts on the same machine and PID namespace (otherwise after
``lease`` seconds, 600 by default, which a live worker renews as tickets come
back), and ``stats().outbox["resent"]`` counts those recipients. A send that
ends part-way, however it ends, records what was accepted (by position, never
matched by token) and keeps only the recipients still owed, so a retry resends
none of them; recipients in doubt (request out, answer never back) are sent
again and counted in ``stats().outbox["in_doubt"]``.

Numbers: ``stats(since=None, until=None)`` counts tickets by status, receipt
and error code over a time range, with the outbox and dead tokens.
``purge(older_than=30 days)`` deletes settled tickets and sent outbox rows.

Times are seconds since the epoch from ``clock`` (``time.time``), the wall
clock: it dates things and moves nothing else. Retry delays, leases and the
shared pacer run on ``lease_clock``, the schedule clock, which setting a
machine's clock does not move (SQLite: the machine's since boot; PostgreSQL:
the database's, read once per process); pass both to test "15 minutes later"
without waiting. A worker waits out its database going away (logged once).
``create_statements(dialect)`` makes the tables from an application's own
migrations.
Callbacks that raise are logged and called again later; they undo nothing.
"""

from .._public import show_as
from ._ledger import CONFIG_ERRORS, Ledger
from ._location import LedgerLocationError
from ._models import DeadToken, LedgerStats, OutboxBacklog, PendingReceipt, ReceiptCheck, WorkerRun
from ._pacer import SharedPacer
from ._schema import SCHEMA_VERSION, create_statements

__all__ = [
    "CONFIG_ERRORS",
    "SCHEMA_VERSION",
    "DeadToken",
    "Ledger",
    "LedgerLocationError",
    "LedgerStats",
    "OutboxBacklog",
    "PendingReceipt",
    "ReceiptCheck",
    "SharedPacer",
    "WorkerRun",
    "create_statements",
]

show_as(__name__, globals(), __all__)
