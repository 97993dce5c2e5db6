"""Creates the harvest's Prometheus metrics in each worker process (see workers.metrics)."""

from dramatiq import Middleware

from workers import metrics


class HarvestMetrics(Middleware):
    def after_process_boot(self, broker):
        # Must run after Dramatiq's Prometheus middleware set PROMETHEUS_MULTIPROC_DIR.
        metrics.init()
