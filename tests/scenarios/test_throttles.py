"""Failures before invocation: throttles and service errors (spec 3.1)."""

from __future__ import annotations

from tests.scenarios.helpers import build, failing_on


class TestThrottles:
    def test_reserved_concurrency_zero_throttles_without_invoking(self) -> None:
        """With reserved concurrency 0 nothing runs and no retry is used (spec 3.1, 10)."""
        w = build(lambda e, c: None, MaximumRetryAttempts=0)
        w.sim.lambda_client.put_function_concurrency(
            FunctionName="fn", ReservedConcurrentExecutions=0
        )
        w.sim.run_for(120)
        assert [] == w.fn.invocations
        throttles = w.sim.trace.events(kind="throttle")
        assert len(throttles) > 3
        assert "ReservedFunctionConcurrentInvocationLimitExceeded" == throttles[0].detail
        assert "pending" == w.sim.fate(w.seqs[0]).outcome

    def test_throttled_records_are_delivered_later_with_retries_intact(self) -> None:
        """After throttles end the batch still gets its full MaximumRetryAttempts (spec 3.1)."""
        w = build(failing_on("k0"), MaximumRetryAttempts=2)
        lam = w.sim.lambda_client
        lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=0)
        w.sim.run_for(300)
        lam.delete_function_concurrency(FunctionName="fn")
        w.sim.run_until_idle()
        assert 3 == len(w.fn.invocations)
        assert 3 == w.queue.messages[0]["requestContext"]["approximateInvokeCount"]

    def test_throttles_until_max_record_age(self) -> None:
        """Throttled records wait until they pass MaximumRecordAgeInSeconds, then are discarded."""
        w = build(lambda e, c: None, MaximumRecordAgeInSeconds=60)
        w.sim.lambda_client.put_function_concurrency(
            FunctionName="fn", ReservedConcurrentExecutions=0
        )
        w.sim.run_until_idle()
        assert [] == w.fn.invocations
        message = w.queue.messages[0]
        assert "RecordAgeExceeded" == message["requestContext"]["condition"]
        assert "responseContext" not in message

    def test_injected_service_errors_do_not_use_retries(self) -> None:
        """Injected service errors are retried like throttles, consuming no retry (spec 3.1)."""
        w = build(lambda e, c: None, MaximumRetryAttempts=0)
        w.sim.inject_invoke_errors("fn", count=3)
        w.sim.run_until_idle()
        assert 1 == len(w.fn.invocations)
        assert "processed" == w.sim.fate(w.seqs[0]).outcome
        assert ["ServiceException"] * 3 == [e.detail for e in w.sim.trace.events(kind="throttle")]
