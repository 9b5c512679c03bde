"""``python -m bench.micro [validation] [decoding] [gc] [memory]``: print the micro-benchmarks' figures."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench.micro import decoding, gc_load, memory, validation

CONCERNS: dict[str, Callable[[], list[str]]] = {
    "validation": validation.run,
    "decoding": decoding.run,
    "gc": gc_load.run,
    "memory": memory.run,
}


def main(argv: list[str]) -> int:
    chosen = argv or list(CONCERNS)
    unknown = [name for name in chosen if name not in CONCERNS]
    if unknown:
        print(f"unknown: {', '.join(unknown)}; choose among {', '.join(CONCERNS)}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"# {name}")
        for text in CONCERNS[name]():
            print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
