"""The harvesting fleet: broker, actors, TikTok client, quota, storage, progress, metrics."""
