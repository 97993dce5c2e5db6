"""The credentials' daily budgets in Redis (bucket.py), changed only by the Lua scripts beside it."""

from core.keys import FOLLOWS, RESEARCH, budget_bucket
from workers.quota.bucket import BucketView, FailureVerdict, Grant, QuotaBucket, reservation

__all__ = ["FOLLOWS", "RESEARCH", "BucketView", "FailureVerdict", "Grant", "QuotaBucket", "budget_bucket",
           "reservation"]
