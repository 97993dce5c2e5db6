"""What `dramatiq` imports in each worker process: the broker, built from the environment,
with the actors declared on it."""

from core.config import get_settings
from core.logs import configure_logging
from workers.broker import install_broker

settings = get_settings()
configure_logging(settings.log_level)
broker = install_broker(settings)
