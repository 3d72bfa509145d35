"""Every record ends in exactly one known place (issue 3 item 7)."""

from __future__ import annotations

from typing import Any

import pytest

import esm_sim
from tests.scenarios.helpers import build, failing_on


class TestFates:
    def test_counts_add_up_to_the_records_in_the_stream(self) -> None:
        """processed + filtered + destination + dropped + expired + pending + skipped = records."""
        w = build(
            failing_on("k3", "k7"),
            records=20,
            BatchSize=4,
            MaximumRetryAttempts=1,
            BisectBatchOnFunctionError=True,
        )
        w.sim.run_until_idle()
        counts = w.sim.fate_counts(w.uuid)
        assert 20 == sum(counts.values())
        assert {"processed": 18, "destination": 2} == {k: v for k, v in counts.items() if v}
        outcomes = [w.sim.fate(s).outcome for s in w.seqs]
        assert 18 == outcomes.count("processed")

    def test_fate_lists_the_deliveries_in_order(self) -> None:
        """fate.deliveries are the invocations that carried the record, in order."""
        w = build(failing_on("k0"), MaximumRetryAttempts=2)
        w.sim.run_until_idle()
        fate = w.sim.fate(w.seqs[0])
        assert w.fn.invocations == list(fate.deliveries)
        assert "RetryAttemptsExhausted" == fate.reason

    def test_fate_lists_deliveries_made_after_an_earlier_call(self) -> None:
        """fate.deliveries counts every carrying invocation, those made after a first fate() too."""
        w = build(
            failing_on("k3"),
            records=12,
            BatchSize=4,
            MaximumRetryAttempts=2,
            BisectBatchOnFunctionError=True,
        )
        w.sim.run_for(6)  # the first attempts only
        early = {s: len(w.sim.fate(s).deliveries) for s in w.seqs}
        w.sim.run_until_idle()
        for seq in w.seqs:
            carried = [i for i in w.fn.invocations if int(seq) in i.sequence_numbers]
            assert carried == list(w.sim.fate(seq).deliveries)
            assert early[seq] <= len(carried)
        assert sum(early.values()) < sum(len(w.sim.fate(s).deliveries) for s in w.seqs)

    def test_pending_before_processing(self) -> None:
        """A record not yet processed is 'pending' (not final)."""
        w = build(lambda e, c: None)
        fate = w.sim.fate(w.seqs[0])
        assert ("pending", False) == (fate.outcome, fate.final)

    def test_unknown_sequence_number_is_a_config_error(self) -> None:
        """Asking the fate of a sequence number no stream holds raises ConfigError naming it."""
        w = build(lambda e, c: None)
        with pytest.raises(esm_sim.errors.ConfigError, match="sequence_number='42'"):
            w.sim.fate("42")

    def test_handler_that_raises_anything_loses_nothing(self) -> None:
        """Whatever a handler raises or returns, every record ends in a known place."""
        responses: list[Any] = [KeyError("x"), {"batchItemFailures": "nope"}, object(), None]

        def handler(event: dict[str, Any], context: Any) -> Any:
            r = responses[len(event["Records"]) % len(responses)]
            if isinstance(r, Exception):
                raise r
            return r

        w = build(
            handler,
            records=9,
            BatchSize=3,
            MaximumRetryAttempts=1,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        w.sim.run_until_idle()
        counts = w.sim.fate_counts(w.uuid)
        assert 0 == counts["pending"]
        assert 9 == sum(counts.values())
