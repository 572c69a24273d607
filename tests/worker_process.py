"""`organiser run` for tests/test_workers.py, with the knobs a test needs.

    PYTHONPATH=. python tests/worker_process.py

Settings come from the ``ORGANISER_*`` environment variables as for
``organiser run`` itself. On top of them:

``ORGANISER_TEST_LEASE``
    seconds an outbox worker holds the rows it is sending
    (:data:`bot.kernel.outbox.LEASE`, a minute in production), so that the rows of a
    worker killed mid-batch are taken over within the test's patience.

Nothing else differs from ``organiser run``: the same ``serve()``, adapters,
scheduler and outbox worker, in one asyncio loop, stopped by SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import bot.kernel.outbox
from adapters.cli import main

if __name__ == "__main__":
    lease = os.environ.get("ORGANISER_TEST_LEASE")
    if lease:
        bot.kernel.outbox.LEASE = dt.timedelta(seconds=float(lease))
    sys.exit(main(["run"]))
