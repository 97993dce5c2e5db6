"""What producers and workers both use: settings, Redis key names, windows, queue messages,
credentials, the harvests' registration and status, logging and the masking of secrets.

It imports neither `producers` nor `workers`: the arrows run one way, into here."""
