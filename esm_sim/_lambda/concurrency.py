"""
Lambda concurrency: reserved concurrency per function and the account's limit.

An invocation request that finds no free slot is throttled
(TooManyRequestsException): no invocation happens and, for an event source
mapping, no retry is used (spec 3.1, spec 10). Injected service errors are
refused the same way.
"""

from __future__ import annotations

from esm_sim._lambda.function import Function

DEFAULT_ACCOUNT_CONCURRENCY = 1000  # spec 10
MIN_UNRESERVED = 100  # spec 10: at least 100 must stay unreserved

# spec 10: the Reason of a TooManyRequestsException (BOTO-L ThrottleReason).
THROTTLE_REASONS = (
    "ConcurrentInvocationLimitExceeded",
    "FunctionInvocationRateLimitExceeded",
    "ReservedFunctionConcurrentInvocationLimitExceeded",
    "ReservedFunctionInvocationRateLimitExceeded",
    "CallerRateLimitExceeded",
    "ConcurrentSnapshotCreateLimitExceeded",
)
# spec 3.1: what an invocation request can meet before the function runs, which a
# stream mapping retries without using MaximumRetryAttempts: a service error
# (ServiceException, spec 1.6) or a throttle (TooManyRequestsException, or one of
# its reasons, spec 10). These are the codes Simulation.inject_invoke_errors takes.
INJECTABLE_ERRORS = ("ServiceException", "TooManyRequestsException", *THROTTLE_REASONS)


class Concurrency:
    """Counts executions in flight and decides whether one more may start."""

    __slots__ = (
        "_injected",
        "account_limit",
        "in_flight",
        "reserved_total",
        "unreserved_in_flight",
    )

    def __init__(self, account_limit: int = DEFAULT_ACCOUNT_CONCURRENCY) -> None:
        self.account_limit = account_limit
        self.in_flight = 0
        self.unreserved_in_flight = 0
        self.reserved_total = 0
        self._injected: dict[str, list[str]] = {}

    def inject(self, function_name: str, count: int, code: str) -> None:
        """Make the next ``count`` invocation requests of a function fail before invoking."""
        self._injected.setdefault(function_name, []).extend([code] * count)

    def acquire(self, fn: Function) -> str | None:
        """Take a slot for ``fn``; None when granted, else the reason of the refusal."""
        injected = self._injected.get(fn.name)
        if injected:
            return injected.pop(0)
        reserved = fn.reserved_concurrency
        if reserved is not None:
            if fn.in_flight >= reserved:
                return "ReservedFunctionConcurrentInvocationLimitExceeded"
        elif self.unreserved_in_flight >= self.account_limit - self.reserved_total:
            return "ConcurrentInvocationLimitExceeded"
        fn.in_flight += 1
        self.in_flight += 1
        if reserved is None:
            self.unreserved_in_flight += 1
        return None

    def release(self, fn: Function) -> None:
        """Give back a slot taken by :meth:`acquire`."""
        fn.in_flight -= 1
        self.in_flight -= 1
        if fn.reserved_concurrency is None:
            self.unreserved_in_flight -= 1
