"""Every type that crosses a boundary, defined once: the researcher's harvest spec, the
credentials file, queue messages, TikTok API bodies, the stored JSON-LD record and the
status document."""
