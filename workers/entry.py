"""What `dramatiq` imports in each worker process: the broker, built from the environment,
with the actors declared on it."""

from workers.broker import install_broker
from workers.config import get_settings
from workers.logs import configure_logging

settings = get_settings()
configure_logging(settings.log_level)
broker = install_broker(settings)
