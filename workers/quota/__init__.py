"""The credentials' daily budgets in Redis (bucket.py), changed only by the Lua scripts beside it."""

from workers.quota.bucket import (
    FOLLOWS,
    RESEARCH,
    BucketView,
    FailureVerdict,
    Grant,
    QuotaBucket,
    budget_bucket,
    reservation,
)

__all__ = ["FOLLOWS", "RESEARCH", "BucketView", "FailureVerdict", "Grant", "QuotaBucket", "budget_bucket",
           "reservation"]
