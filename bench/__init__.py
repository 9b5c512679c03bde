"""Benchmarks of expo-push against the other Expo push SDKs, on the same workloads, through the local emulator.

Run ``python -m bench`` from the repository root (see ``bench/__main__.py`` and bench/README.md).
"""
