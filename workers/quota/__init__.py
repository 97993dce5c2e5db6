"""The credentials' daily budgets in Redis (bucket.py), changed only by the Lua scripts beside it."""

from workers.quota.bucket import BucketView, FailureVerdict, Grant, QuotaBucket, reservation

__all__ = ["BucketView", "FailureVerdict", "Grant", "QuotaBucket", "reservation"]
