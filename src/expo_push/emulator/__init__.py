"""A local emulator of the Expo Push service, for tests, demos and benchmarks (``pip install expo-push[emulator]``).

It judges requests with its own model of the service (``_service.py``: documented, observed or
guessed behaviour, nothing from the client's validation), serves HTTP/1.1 and HTTP/2 (h2c, or TLS
with ``tls=True``: ``ca_file`` / ``ssl_context()`` to trust it), and shows every accepted
notification on its inbox page at ``url``. It speaks the service's wire protocol on ``POST /--/api/v2/push/send`` and
``POST /--/api/v2/push/getReceipts``, so any client pointed at its URL (with
``EXPO_BASE_URL`` or ``base_url=``) behaves as against the service: tickets,
receipts after ``receipt_delay``, gzip request bodies (and gzip answers to
clients that accept them), the 100-notification and 1000-receipt limits, one
project per request, access tokens, and the per-project rate limit (a token
bucket holding one second of ``rate_limit``).

From Python::

    from expo_push.emulator import Emulator

    with Emulator(rate_limit=600) as emu:       # or `async with`; or emu.start() ... emu.stop()
        emu.url                                 # "http://127.0.0.1:PORT"
        emu.script_token(token, ticket_error="DeviceNotRegistered")
        emu.script_token(other, receipt_error="MessageTooBig")    # any code
        emu.script_token(lost, receipt_lost=True)   # its receipt never comes
        emu.registered_only = True; emu.register([a, b])  # others: DeviceNotRegistered
        emu.set_project([a, b], "@acme/other")  # others are in "@test/app"
        emu.add_fault("server_error", status=503, count=2)
        emu.add_fault("rate_limit", retry_after=1)
        emu.add_fault("drop", accept=True)      # accepted, then the answer is lost
        emu.add_fault("stall")                  # held until emu.release_stalls()
        emu.wait_for_stalls(1)                  # block until a request is held
        emu.wait_idle()                         # block until no request is being handled
        emu.add_fault("invalid_json", probability=0.1, count=None, seed=7)
        emu.add_fault("wrong_ticket_count", target="receipts")
        emu.messages(token)                     # [{"to": token, "title": ...}, ...]
        emu.inbox(token)                        # [Delivery(message, ticket_id, project, receipt_error)]
        emu.stats.notifications                 # also requests, duplicates, rate_limited, errors, ...
        emu.advance(900)                        # move the clock instead of sleeping
        emu.reset()

Fault kinds (``Fault`` documents every option): ``"rate_limit"`` (429, with
``retry_after`` seconds or no ``Retry-After``), ``"server_error"`` (``status``
500/502/503/504, JSON or ``html=True``), ``"drop"`` (close the connection
without an answer), ``"stall"`` (hold the answer ``seconds``, or until
``release_stalls()``; other requests are served meanwhile), ``"invalid_json"``
(200 with a body that is not JSON), ``"wrong_ticket_count"`` (``ticket_delta``
tickets too many or too few). A fault applies to the next ``count`` send
requests (``count=None``: all, until ``clear_faults()``), or to a
``probability`` share of them drawn with ``seed`` (the draws follow arrival
order: with concurrent requests, the same seed repeats the sequence of
decisions, not which requests fail), once ``after`` of them went through;
``target="receipts"`` or ``"any"`` aims it at receipts requests.
``accept=True`` handles the request normally before replacing its answer, as
when a timed-out request went through.

Over HTTP (JSON, under ``/--/emulator/``, refused to other sites' pages; ``control_token``
when given): ``GET stats``, ``GET inbox/{token}``, ``GET feed`` (``?q=`` searches),
``GET events``, ``GET|DELETE notifications/{seq}``, ``PUT notifications/{seq}/tags``,
``POST clear``, ``GET traffic``,
``GET requests/{n}`` (every push request, refused ones too), ``POST register``,
``GET|POST|DELETE faults`` (POST a fault object or a list, same names as
``Fault``), ``POST release``, ``POST script`` (``{"token"|"tokens", "ticket_error",
"receipt_error", "project"}``), ``POST project``, ``GET|POST config``
(``{"rate_limit", "latency", "receipt_delay", "receipt_retention", "default_project", "history"}``),
``POST advance`` (``{"seconds"}``), ``POST reset``.

From a shell: ``python -m expo_push.emulator --port 0`` prints
``Expo Push emulator listening on http://127.0.0.1:PORT`` and serves until
interrupted (``main(argv)`` is the same, for other command lines).

Memory is bounded: the latest ``history`` notifications are kept (default 10,000;
older ones leave ``inbox()`` and the page, and duplicates are judged among the kept),
the latest 1,000 push requests whole, and receipts for ``receipt_retention`` of at
most the latest 1,000,000 tickets.
"""

from typing import TYPE_CHECKING

from .._public import show_as
from ._faults import Fault, FaultKind, FaultTarget
from ._main import main
from ._state import Delivery, Stats

if TYPE_CHECKING:
    from ._emulator import Emulator

__all__ = ["Delivery", "Emulator", "Fault", "FaultKind", "FaultTarget", "Stats", "main"]

show_as(__name__, globals(), __all__)

MISSING_EXTRA = "the emulator needs hypercorn, which its extra installs: pip install 'expo-push[emulator]'"


def __getattr__(name: str) -> object:
    if name == "Emulator":  # imported on first use, so that a missing hypercorn is reported in one clear line
        try:
            from ._emulator import Emulator
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] not in ("hypercorn", "h2", "h11"):
                raise
            raise ModuleNotFoundError(MISSING_EXTRA, name="hypercorn") from None
        Emulator.__module__ = __name__
        return Emulator
    raise AttributeError(f"module 'expo_push.emulator' has no attribute {name!r}")
