"""A thread per worker process that sends this process's heartbeat and runs Dramatiq's
maintenance pass on every queue every few seconds. (Queue depths are the exporter's:
workers/exporter/queues.py.)

Dramatiq's Redis broker hands a dead worker's unacknowledged messages back only during a
maintenance pass, which it otherwise runs on a random one in a thousand commands, and only
counts a worker dead after `heartbeat_timeout`. With the defaults set in `workers.broker`
(15 s timeout, 5 s sweeps) a SIGKILLed worker's pages are fetched again within ~20 s.

The same thread runs the retention sweep (workers/retention.py), once an hour for the fleet.
"""

import threading

import structlog
from dramatiq import Middleware

from workers.context import get_context
from workers.retention import RetentionSweep

log = structlog.get_logger(__name__)


class FleetSweeper(Middleware):
    def __init__(self, interval_s: float = 5.0):
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retention = RetentionSweep()

    def after_worker_boot(self, broker, worker):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(broker,), name="fleet-sweeper", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()

    def _run(self, broker):
        while not self._stop.wait(self.interval_s):
            # Delay queues are swept with their queue.
            for queue_name in sorted(q for q in broker.get_declared_queues() if not q.endswith(".DQ")):
                try:
                    broker.sweep(queue_name)
                except Exception as error:  # Redis away for a moment: try again next round
                    log.warning("sweep_failed", queue=queue_name, error=type(error).__name__)
            try:
                self._retention.run_if_due(get_context())
            except Exception as error:  # noqa: BLE001 (the thread must live on: tried again at the next check)
                log.warning("retention_sweep_failed", error=type(error).__name__)
