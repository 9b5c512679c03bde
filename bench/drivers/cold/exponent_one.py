"""Cold start, exponent-server-sdk 2.2.0: import it and send one notification as its README shows.

``EXPO_BASE_URL`` names the emulator, ``BENCH_TOKEN`` the recipient. Exit status 0 when the ticket is ok.
"""

import os

from exponent_server_sdk import PushClient, PushMessage  # type: ignore[import-not-found]

ticket = PushClient(host=os.environ["EXPO_BASE_URL"]).publish(
    PushMessage(to=os.environ["BENCH_TOKEN"], title="Cold start", body="One notification")
)
raise SystemExit(0 if ticket.is_success() else 1)
