"""The CLI and the ledger: a location that cannot hold a ledger is explained in the ledger's own words (one home), and
`send --ledger` sends and records through the ledger's own pipeline."""

from __future__ import annotations

import pytest

from expo_push.ledger import Ledger, LedgerLocationError

from .conftest import TOKENS


@pytest.mark.parametrize("where", ["mysql://app:s3cret@db/push", ".", "missing/push.db"])
def test_send_with_a_ledger_that_cannot_be_says_what_ledger_open_says(cli, tmp_path, expo_emulator, where) -> None:
    with pytest.raises(LedgerLocationError) as raised:
        Ledger.open(where if "://" in where else str(tmp_path / where))
    done = cli("send", "--to", TOKENS[0], "--ledger", where if "://" in where else str(tmp_path / where))
    assert done.status == 2
    assert " ".join(done.err.split()) == f"expo-push send: {raised.value}"
    assert "s3cret" not in done.err
    assert expo_emulator.stats.requests == 0


def test_send_records_through_the_ledgers_own_pipeline_so_a_rate_refusal_is_resent(
    cli, tmp_path, expo_emulator
) -> None:
    # Tickets are recorded with their message (as Ledger.send records them), so MessageRateExceeded schedules
    # the resend; recorded without it, the ledger could only log that it cannot resend.
    expo_emulator.script_token(TOKENS[0], ticket_error="MessageRateExceeded")
    done = cli("send", "--to", TOKENS[0], "--to", TOKENS[1], "--body", "hi", "--ledger", str(tmp_path / "push.db"))
    assert done.status != 2, done.err
    with Ledger.open(tmp_path / "push.db") as ledger:
        assert ledger.outbox_backlog().pending == 1
        assert ledger.stats().ticket_errors == {"MessageRateExceeded": 1}


def test_the_worker_claims_the_librarys_batch_size_by_default() -> None:
    import inspect

    from expo_push.cli._main import build_parser

    args = build_parser().parse_args(["worker", "--ledger", "push.db"])
    assert args.batch_size == inspect.signature(Ledger.run_worker).parameters["batch_size"].default == 500


def test_send_leaves_out_the_clients_stopped_warning_by_its_mark_not_its_words(caplog) -> None:
    import logging

    from expo_push._batch import SEND_STOPPED
    from expo_push.cli._send import _own_summary

    logger = logging.getLogger("expo_push")
    with caplog.at_level(logging.WARNING, logger="expo_push"), _own_summary():
        logger.warning("expo-push: a send was stopped before it finished: 3 unsent", extra={SEND_STOPPED: True})
        logger.warning("expo-push: a send was stopped before it finished (someone else's words)")
    assert [r.getMessage() for r in caplog.records] == [
        "expo-push: a send was stopped before it finished (someone else's words)"
    ]
