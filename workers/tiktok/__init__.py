"""The TikTok Research API: the HTTP client (client.py), what can go wrong (errors.py) and the
access token the fleet shares (tokens.py). The client knows nothing of Redis, files or queues."""
