"""The CLI explains a ledger location that cannot hold a ledger with the ledger's own words (one home)."""

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
