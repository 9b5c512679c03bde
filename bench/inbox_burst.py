"""Measure the inbox under a burst: how far behind the page is, and the emulator's memory.

The emulator runs in a child process (``python -m expo_push.emulator``, no rate limit); this process
sends notifications in requests of 100, ``--concurrency`` at a time. With the page open in headless
Chromium (Playwright, ``--chromium``), ``lag`` is the time from the last answer of the burst to the
page showing its newest notification first. Memory is the emulator's resident size (VmRSS, Linux)
after each total of notifications given with ``--memory-at``, without a page:

    python bench/inbox_burst.py --burst 50000 --memory-at 100000 500000
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import time
from typing import Any

import httpx

try:
    from bench.emulator import EmulatorProcess
except ModuleNotFoundError:  # run as a script: bench/ is on the path, not the repository
    from emulator import EmulatorProcess  # type: ignore[no-redef]

_MIB = 1024 * 1024


async def _send(url: str, first: int, count: int, concurrency: int) -> float:
    """Send notifications ``first`` .. ``first + count - 1`` in requests of 100; return the seconds it took."""
    bodies = (
        json.dumps([
            {"to": f"ExponentPushToken[burst-{n}]", "title": f"n{n}", "body": "a burst", "data": {"n": n}}
            for n in range(start, min(start + 100, first + count))
        ]).encode()
        for start in range(first, first + count, 100)
    )  # fmt: skip
    limits = httpx.Limits(max_connections=concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for body in bodies:
                answer = await client.post(
                    "/--/api/v2/push/send", content=body, headers={"Content-Type": "application/json"}
                )
                answer.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def _lag(burst: int, concurrency: int, chromium: str, history: int | None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    options = ("--history", str(history)) if history else ()
    with EmulatorProcess(*options) as emulator, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--headless"])
        page = browser.new_page()
        page.goto(emulator.url)
        page.wait_for_selector('#live[data-state="live"]')
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
            sending = pool.submit(asyncio.run, _send(emulator.url, 0, burst, concurrency)).result()
        sent_at = time.perf_counter()
        newest = httpx.get(f"{emulator.url}/--/emulator/feed?limit=1").json()["data"][0]["message"]["title"]
        page.wait_for_function(
            "t => document.querySelector('[data-testid=notification] .ios .title')?.textContent === t",
            arg=newest,
            timeout=600_000,
        )
        lag = time.perf_counter() - sent_at
        cards = page.locator('[data-testid="notification"]').count()
        options_count = page.locator("#recent-tokens option").count()
        count_text = page.locator("#count").text_content()
        browser.close()
    return {"burst": burst, "sending_s": sending, "lag_s": lag, "cards": cards, "token_options": options_count,
            "count": count_text}  # fmt: skip


def _memory(totals: list[int], concurrency: int, history: int | None) -> list[tuple[int, int]]:
    options = ("--history", str(history)) if history else ()
    found = []
    with EmulatorProcess(*options) as emulator:
        found.append((0, emulator.memory_bytes()))
        sent = 0
        for total in sorted(totals):
            asyncio.run(_send(emulator.url, sent, total - sent, concurrency))
            sent = total
            found.append((total, emulator.memory_bytes()))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--burst", type=int, default=50_000, help="notifications sent with the page open (0: none)")
    parser.add_argument("--memory-at", type=int, nargs="*", default=[100_000, 500_000], metavar="N")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--history", type=int, default=None, help="the emulator's --history (default: its own)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if args.burst:
        result = _lag(args.burst, args.concurrency, args.chromium, args.history)
        print(
            f"burst of {result['burst']:,} sent in {result['sending_s']:.1f} s; the page showed the newest "
            f"{result['lag_s']:.2f} s after the last answer ({result['cards']} cards, "
            f"{result['token_options']} token options; '{result['count']}')"
        )
    if args.memory_at:
        rows = _memory(args.memory_at, args.concurrency, args.history)
        base = rows[0][1]
        for total, rss in rows:
            print(f"after {total:>9,} notifications: {rss / _MIB:7.1f} MiB resident (+{(rss - base) / _MIB:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
