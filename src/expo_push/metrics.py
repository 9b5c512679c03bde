"""Prometheus metrics of the clients and the ledger, for the people who run them (the observer interface the
clients call lives below them, in ``_observer``; its names are re-exported here).

The clients call a ``SendObserver`` (``PushClient(metrics=...)``); the default,
``NO_METRICS``, does nothing. ``PrometheusMetrics`` is one made of
``prometheus_client`` counters and histograms (``pip install
'expo-push[metrics]'``); this module imports ``prometheus_client`` only when
one is made::

    from expo_push import PushClient
    from expo_push.metrics import PrometheusMetrics

    metrics = PrometheusMetrics()            # registers in prometheus_client's default registry
    metrics.serve(9464)                      # or expose the registry on your application's own endpoint
    client = PushClient(metrics=metrics)

With a ledger, ``metrics.watch_ledger(ledger)`` adds the outbox backlog and
the age of its oldest pending notification (read from the database at each
scrape), and ``metrics.receipts(ledger.check_receipts(client))`` counts the
receipts of a check and the dead tokens it found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _errors
from ._models import PushTicket
from ._observer import NO_METRICS, NoMetrics, SendObserver, endpoint_of, retry_reason
from ._service import DEVICE_NOT_REGISTERED, KNOWN_ERRORS, REQUEST_ERRORS

if TYPE_CHECKING:
    from .ledger import Ledger, ReceiptCheck

__all__ = [
    "NO_METRICS",
    "NoMetrics",
    "PrometheusMetrics",
    "SendObserver",
    "endpoint_of",
    "error_label",
    "retry_reason",
]

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds, for request latency."""
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds, for time spent waiting on the pacer."""


def error_label(code: str) -> str:
    """The ``error`` label of a code: the code itself when the service documents it (or it names one of this
    package's exceptions), else ``"other"``: an answer's own text never becomes a series of its own."""
    if code in KNOWN_ERRORS or code in REQUEST_ERRORS or code in _EXCEPTIONS:
        return code
    return "other"


_EXCEPTIONS = frozenset(_errors.__all__)


class PrometheusMetrics:
    """A ``SendObserver`` made of Prometheus metrics, plus the ledger's; see the module docstring.

    Args:
        registry: Where the metrics are registered (default: ``prometheus_client.REGISTRY``, which
            ``serve`` and ``prometheus_client.start_http_server`` expose). Make one per registry.
        namespace: The prefix of every metric name.

    Metrics (with the default namespace):

    - ``expo_push_notifications_total{outcome, error}``: notifications by outcome: ``ok`` (a ticket
      ``ok``), ``error`` (an error ticket; ``error`` is its code), ``failed`` (the request failed for good,
      nothing sent; ``error`` is the reason);
    - ``expo_push_requests_total{endpoint, status}``: attempts by HTTP status (``none``: no answer);
    - ``expo_push_request_seconds{endpoint}``: latency of each attempt (histogram);
    - ``expo_push_retries_total{reason}``: attempts made again (``429``, ``5xx``, ``connection``);
    - ``expo_push_rate_limited_total``: 429 answers (the budget is overdrawn: several workers not sharing one);
    - ``expo_push_pacer_wait_seconds``: time requests waited on the pacer (histogram);
    - ``expo_push_receipts_total{outcome, error}``: receipts fetched: ``ok``, ``error`` (by code),
      ``waiting`` (not ready, asked again later), ``missing`` (given up on);
    - ``expo_push_dead_tokens_total``: tokens found not registered (error tickets and receipts);
    - ``expo_push_outbox_backlog``: notifications waiting in the outbox (pending), read at each scrape;
    - ``expo_push_outbox_oldest_pending_seconds``: how long the oldest of them has waited (0 when none);
    - ``expo_push_outbox_sending``: notifications claimed by workers and not yet recorded.
    """

    def __init__(self, registry: Any = None, *, namespace: str = "expo_push") -> None:
        try:
            import prometheus_client
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("PrometheusMetrics needs prometheus_client: pip install 'expo-push[metrics]'") from None
        from prometheus_client import Counter, Histogram

        self.registry = prometheus_client.REGISTRY if registry is None else registry
        self.namespace = namespace
        common: dict[str, Any] = {"namespace": namespace, "registry": self.registry}
        self._notifications = Counter(
            "notifications", "Notifications by outcome and error code", ["outcome", "error"], **common
        )
        self._requests = Counter(
            "requests", "Requests to the service by endpoint and status", ["endpoint", "status"], **common
        )
        self._latency = Histogram(
            "request_seconds", "Latency of each request", ["endpoint"], buckets=LATENCY_BUCKETS, **common
        )
        self._retries = Counter("retries", "Requests made again, by reason", ["reason"], **common)
        self._rate_limited = Counter("rate_limited", "429 answers (rate limit exceeded)", **common)
        self._pacer_wait = Histogram(
            "pacer_wait_seconds", "Time requests waited on the pacer before going", buckets=WAIT_BUCKETS, **common
        )
        self._receipts = Counter("receipts", "Receipts by outcome and error code", ["outcome", "error"], **common)
        self._dead = Counter("dead_tokens", "Tokens found not registered (DeviceNotRegistered)", **common)

    def __repr__(self) -> str:
        return f"<PrometheusMetrics namespace={self.namespace!r}>"

    # -- the clients' observer ---------------------------------------------------------------------

    def request(self, endpoint: str, status: int | None, seconds: float) -> None:
        """Count an attempt and its latency."""
        self._requests.labels(endpoint, "none" if status is None else str(status)).inc()
        self._latency.labels(endpoint).observe(seconds)
        if status == 429:
            self._rate_limited.inc()

    def retry(self, reason: str) -> None:
        """Count an attempt made again."""
        self._retries.labels(reason).inc()

    def pacer_wait(self, seconds: float) -> None:
        """Record a wait on the pacer."""
        self._pacer_wait.observe(seconds)

    def tickets(self, tickets: Sequence[PushTicket]) -> None:
        """Count tickets by outcome and error code, and the tokens they say are dead."""
        ok = 0
        errors: dict[str, int] = {}
        for ticket in tickets:
            if ticket.status == "ok":
                ok += 1
            else:
                code = ticket.error_code or "unknown"
                errors[code] = errors.get(code, 0) + 1
        if ok:
            self._notifications.labels("ok", "").inc(ok)
        for code, count in errors.items():
            self._notifications.labels("error", error_label(code)).inc(count)
        if errors.get(DEVICE_NOT_REGISTERED):
            self._dead.inc(errors[DEVICE_NOT_REGISTERED])

    def failed(self, notifications: int, code: str) -> None:
        """Count notifications of a request that failed for good."""
        if notifications > 0:
            self._notifications.labels("failed", error_label(code)).inc(notifications)

    # -- the ledger ---------------------------------------------------------------------------------

    def receipts(self, check: ReceiptCheck) -> ReceiptCheck:
        """Count what one ``check_receipts`` found (receipts by outcome, dead tokens); return ``check``."""
        if check.ok:
            self._receipts.labels("ok", "").inc(check.ok)
        for code, count in check.errors.items():
            self._receipts.labels("error", error_label(code)).inc(count)
        if check.waiting:
            self._receipts.labels("waiting", "").inc(check.waiting)
        if check.missing:
            self._receipts.labels("missing", "").inc(check.missing)
        if check.dead_tokens:
            self._dead.inc(len(check.dead_tokens))
        return check

    def watch_ledger(self, ledger: Ledger) -> None:
        """Report the outbox of ``ledger`` (backlog, oldest pending age, in flight), read at each scrape."""
        self.registry.register(_OutboxCollector(ledger, self.namespace))

    def serve(self, port: int, addr: str = "0.0.0.0") -> Any:
        """Serve this registry's metrics at ``http://addr:port/metrics`` from a background thread; return the
        server (``.shutdown()`` stops it)."""
        from prometheus_client import start_http_server

        server, _ = start_http_server(port, addr=addr, registry=self.registry)
        return server


class _OutboxCollector:
    """Reads the outbox's backlog from the ledger's database when Prometheus scrapes."""

    def __init__(self, ledger: Ledger, namespace: str) -> None:
        self._ledger = ledger
        self._namespace = namespace

    def describe(self) -> list[Any]:
        return list(self._families(0, None, 0))

    def collect(self) -> list[Any]:
        backlog = self._ledger.outbox_backlog()
        return list(self._families(backlog.pending, backlog.oldest_age, backlog.sending))

    def _families(self, pending: int, oldest_age: float | None, sending: int) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily

        prefix = f"{self._namespace}_" if self._namespace else ""
        return [
            GaugeMetricFamily(f"{prefix}outbox_backlog", "Notifications waiting in the outbox", value=pending),
            GaugeMetricFamily(
                f"{prefix}outbox_oldest_pending_seconds",
                "Seconds the notification ready the longest has waited in the outbox (0 when none)",
                value=oldest_age or 0.0,
            ),
            GaugeMetricFamily(
                f"{prefix}outbox_sending", "Notifications claimed by workers, not yet recorded", value=sending
            ),
        ]


for _shown in (NoMetrics, SendObserver):
    _shown.__module__ = __name__  # shown where users import them from (they live below the clients)
