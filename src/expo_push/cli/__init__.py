"""The ``expo-push`` command line: send, receipts, emulator, worker, tokens and the offline demo."""

from ._main import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
