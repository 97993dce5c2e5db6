"""Gauges read from Redis at scrape time, for `tiktok-harvest exporter`.

Workers count what they do (workers/metrics.py); what the fleet *holds* — messages waiting,
quota used today, harvests in progress, live workers — is read here from Redis, by one
process, whether the workers are busy, idle or gone. Each module reads one family with a few
pipelined commands and returns plain values; collector.py turns them into metrics.
"""
