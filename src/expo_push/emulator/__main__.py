"""``python -m expo_push.emulator``: run the emulator until interrupted."""

from ._main import main

raise SystemExit(main())
