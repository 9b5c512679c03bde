"""Cold start, expo-push: import the library and send one notification, as a cron job or a function would.

``EXPO_BASE_URL`` names the emulator, ``BENCH_TOKEN`` the recipient. Exit status 0 when the ticket is ok.
"""

import os

from expo_push import PushClient

with PushClient() as client:
    [ticket] = client.send({"to": os.environ["BENCH_TOKEN"], "title": "Cold start", "body": "One notification"})
raise SystemExit(0 if ticket.ok else 1)
