"""Opens the per-process resources when a worker boots and closes them on shutdown."""

from dramatiq import Middleware

from core.config import Settings
from workers.context import build_context, get_context, set_context


class WorkerResources(Middleware):
    def __init__(self, settings: Settings):
        self.settings = settings

    def before_worker_boot(self, broker, worker):
        set_context(build_context(self.settings, broker))

    def after_worker_shutdown(self, broker, worker):
        get_context().close()
        set_context(None)
