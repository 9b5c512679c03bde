"""Micro-benchmarks of the core, one module per concern, each figure beside the floor it is measured against.

    python -m bench.micro                 # all of them
    python -m bench.micro decoding gc     # some of them

They run in-process with no server and no network: validation, reading answers, garbage-collector load,
and the memory a large ``send()`` holds. Each prints lines of ``figure  floor  what``.
"""
