"""``python -m expo_push`` runs the ``expo-push`` command."""

from .cli import run

run()
