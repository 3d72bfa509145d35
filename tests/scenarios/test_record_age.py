"""MaximumRecordAgeInSeconds and stream retention: spec 3.2, 3.3, 7.1."""

from __future__ import annotations

from typing import Any

from tests.scenarios.helpers import build, failing_on, keys


class TestRecordAge:
    def test_record_written_long_before_mapping_starts_is_discarded(self) -> None:
        """Records older than the limit at first read go to the destination uninvoked (spec 3.3)."""
        w = build(
            lambda e, c: None,
            records=2,
            MaximumRecordAgeInSeconds=60,
            sim_kwargs={"state_transition_delay": 120},
        )
        w.sim.run_until_idle()
        assert [] == w.fn.invocations
        (message,) = w.queue.messages
        assert "RecordAgeExceeded" == message["requestContext"]["condition"]
        assert 1 == message["requestContext"]["approximateInvokeCount"]
        assert "responseContext" not in message
        assert 2 == message["DDBStreamBatchInfo"]["batchSize"]

    def test_expired_while_retrying(self) -> None:
        """A retried batch passing the limit is discarded as RecordAgeExceeded, no responseContext."""
        w = build(failing_on("k0"), MaximumRecordAgeInSeconds=60)
        w.sim.run_until_idle()
        assert len(w.fn.invocations) >= 5
        (message,) = w.queue.messages
        assert "RecordAgeExceeded" == message["requestContext"]["condition"]
        assert "responseContext" not in message
        assert len(w.fn.invocations) == message["requestContext"]["approximateInvokeCount"]

    def test_only_the_expired_part_of_a_batch_is_discarded(self) -> None:
        """Expired records are split off and discarded alone; the rest is invoked (spec 3.3)."""
        calls: list[list[str]] = []

        def handler(event: dict[str, Any], context: Any) -> None:
            calls.append(keys(event))
            if len(calls) == 1:
                raise RuntimeError("first attempt fails")

        # k0 at 0 s; the window (opened at 5 s) closes at 55 s with k0 and "late"
        # (written at 40 s); that attempt fails; the retry 10 s later finds k0 past 60 s.
        w = build(
            handler,
            records=1,
            BatchSize=10,
            MaximumRecordAgeInSeconds=60,
            MaximumBatchingWindowInSeconds=50,
            sim_kwargs={"retry_backoff_base": 10},
        )
        w.sim.call_later(40, w.table.put_item, {"pk": "late"})
        w.sim.run_until_idle()
        (message,) = w.queue.messages
        assert 1 == message["DDBStreamBatchInfo"]["batchSize"]
        assert w.seqs[0] == message["DDBStreamBatchInfo"]["startSequenceNumber"]
        assert ["late"] == calls[-1]
        assert "processed" == w.sim.fate(w.seqs[1]).outcome

    def test_without_destination_expired_records_are_dropped(self) -> None:
        """With no destination, discarded records are dropped (spec 3.5)."""
        w = build(failing_on("k0"), destination=None, MaximumRecordAgeInSeconds=60)
        w.sim.run_until_idle()
        fate = w.sim.fate(w.seqs[0])
        assert ("dropped", "RecordAgeExceeded") == (fate.outcome, fate.reason)


class TestRetention:
    def test_reader_behind_the_trim_horizon_loses_records_with_a_trace(self) -> None:
        """Records trimmed before a reader gets to them are 'expired', never silently lost (spec 7.1)."""
        w = build(lambda e, c: None, records=3, sim_kwargs={"state_transition_delay": 90_000})
        w.sim.run_until_idle(max_seconds=3 * 86_400)
        assert [] == w.fn.invocations
        assert ["expired"] * 3 == [w.sim.fate(s).outcome for s in w.seqs]
        (event,) = w.sim.trace.events(kind="expire")
        assert 3 == event.count
