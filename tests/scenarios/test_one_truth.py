"""
One truth: the mapping judges each answer once, and every view reads that judgement.

``Invocation.outcome`` and ``Invocation.reason`` (from ``fn.invocations`` and
from the mapping's own log, ``sim.fate(seq).deliveries``), the ``result``
trace row, the metrics (spec 9), the timeline and ``sim.fates()`` must all
tell the same story: Lambda's view (did the function error, spec 3.1) is kept
apart from the mapping's (did it take the batch, spec 4, 6.3).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from esm_sim.invariants import check_all
from tests.scenarios.helpers import RBIF, World, build, fail_items, returning

EVENT_COUNT = {"Metrics": ["EventCount"]}  # spec 9.2: the ESM metrics are opt-in


def raising(event: dict[str, Any], context: Any) -> None:
    msg = "boom"
    raise ValueError(msg)


def first_record_failed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seq = event["Records"][0]["dynamodb"]["SequenceNumber"]
    return {"batchItemFailures": [{"itemIdentifier": seq}]}


# (handler, mapping settings, records written, expected (outcome, error), reason pattern or None)
FIRST_INVOCATION = [
    pytest.param(
        returning({"batchItemFailures": [{"itemIdentifier": "123"}]}),
        {"FunctionResponseTypes": RBIF},
        1,
        ("failure", None),
        r"itemIdentifier '123' is not a record of the batch",
        id="spec4-bad-itemIdentifier-is-a-failure-without-error",
    ),
    pytest.param(
        returning({"batchItemFailures": [{"itemIdentifier": ""}]}),
        {"FunctionResponseTypes": RBIF},
        1,
        ("failure", None),
        r"itemIdentifier.*''",
        id="spec4-empty-itemIdentifier",
    ),
    pytest.param(
        returning({"total": 1}),
        {"TumblingWindowInSeconds": 60},
        1,
        ("failure", None),
        r"'state'",
        id="spec6.3-window-response-without-state",
    ),
    pytest.param(
        first_record_failed,
        {},
        1,
        ("success", None),
        r"ReportBatchItemFailures",
        id="spec4-batchItemFailures-without-ReportBatchItemFailures",
    ),
    pytest.param(
        raising,
        {},
        1,
        ("failure", "Unhandled"),
        r"the function failed \(ValueError\)",
        id="spec3.1-function-error",
    ),
    pytest.param(
        fail_items("k1"),
        {"FunctionResponseTypes": RBIF},
        2,
        ("partial", None),
        r"item failure from record \d+",
        id="spec4-partial-response",
    ),
    pytest.param(
        returning({"BatchItemFailures": [{"itemIdentifier": "123"}]}),
        {"FunctionResponseTypes": RBIF},
        1,
        ("success", None),
        r"case-sensitive",
        id="spec11.2-capitalised-key-is-success-with-a-reason",
    ),
    pytest.param(
        returning(None),
        {"FunctionResponseTypes": RBIF},
        1,
        ("success", None),
        None,
        id="spec4-plain-success",
    ),
    pytest.param(
        returning({"batchItemFailures": None}),
        {"FunctionResponseTypes": RBIF},
        1,
        ("success", None),
        None,
        id="spec4-null-batchItemFailures-plain-success",
    ),
    pytest.param(returning("ok"), {}, 1, ("success", None), None, id="spec4-no-rbif-plain-success"),
]


def result_rows(w: World) -> dict[str, tuple[str, Any]]:
    """Per request id, the (outcome, reason) its ``result`` trace row recorded."""
    return {
        e.get("request_id"): (e.outcome, e.get("reason"))
        for e in w.sim.trace.events(kind="result", mapping=w.uuid)
    }


class TestInvocationOutcome:
    @pytest.mark.parametrize(
        ("handler", "mapping", "records", "expected", "reason"), FIRST_INVOCATION
    )
    def test_the_first_invocation_records_the_mappings_verdict(
        self,
        handler: Any,
        mapping: dict[str, Any],
        records: int,
        expected: tuple[str, Any],
        reason: str | None,
    ) -> None:
        """Invocation.outcome is the mapping's verdict, .error Lambda's, and .reason says why unless it was a plain success (spec 3.1, 4, 6.3)."""
        w = build(handler, records=records, MaximumRetryAttempts=0, **mapping)
        w.sim.run_until_idle()
        inv = w.fn.invocations[0]
        assert expected == (inv.outcome, inv.error)
        if reason is None:
            assert inv.reason is None
        else:
            assert inv.reason is not None
            assert re.search(reason, inv.reason), inv.reason

    @pytest.mark.parametrize(
        ("handler", "mapping", "records", "expected", "reason"), FIRST_INVOCATION
    )
    def test_every_view_reads_the_same_verdict(
        self,
        handler: Any,
        mapping: dict[str, Any],
        records: int,
        expected: tuple[str, Any],
        reason: str | None,
    ) -> None:
        """fn.invocations, the mapping's log (sim.fate(...).deliveries) and the result rows agree on each outcome and reason (spec 4)."""
        w = build(handler, records=records, MaximumRetryAttempts=1, **mapping)
        w.sim.run_until_idle()
        from_function = [(i.request_id, i.outcome, i.reason) for i in w.fn.invocations]
        delivered = {i.request_id: i for s in w.seqs for i in w.sim.fate(s).deliveries}
        from_mapping = [
            (i.request_id, i.outcome, i.reason)
            for i in w.fn.invocations
            if i.request_id in delivered
        ]
        assert from_mapping == [
            (rid, delivered[rid].outcome, delivered[rid].reason)
            for rid, _, _ in from_function
            if rid in delivered
        ]
        rows = result_rows(w)
        assert [(rid, *rows[rid]) for rid, _, _ in from_function] == from_function
        assert all(outcome is not None for _, outcome, _ in from_function)

    def test_a_plain_success_has_no_reason(self) -> None:
        """A batch the function handled and the mapping took at its word has outcome success and reason None (spec 4)."""
        w = build(returning(None), records=3, BatchSize=1)
        w.sim.run_until_idle()
        assert [("success", None, None)] * 3 == [
            (i.outcome, i.reason, i.error) for i in w.fn.invocations
        ]

    def test_rbif_turned_off_later_leaves_past_verdicts_alone(self) -> None:
        """An invocation keeps the verdict made under the settings it was sent with, whatever a later update says (spec 1.4, 4)."""
        calls: list[int] = []

        def handler(event: dict[str, Any], context: Any) -> Any:
            calls.append(1)
            return first_record_failed(event, context) if len(calls) == 1 else None

        w = build(handler, records=1, FunctionResponseTypes=RBIF)
        w.sim.run_until_idle()
        before = [(i.outcome, i.reason) for i in w.fn.invocations]
        w.sim.lambda_client.update_event_source_mapping(UUID=w.uuid, FunctionResponseTypes=[])
        w.sim.run_until_idle()
        assert [
            ("failure", "the batch's first record was reported failed (no progress)"),
            ("success", None),
        ] == before
        assert before == [(i.outcome, i.reason) for i in w.fn.invocations]


class TestErrorsMetric:
    @pytest.mark.parametrize(
        ("handler", "mapping", "errors"),
        [
            pytest.param(raising, {}, 3, id="spec9.1-function-errors-count"),
            pytest.param(
                returning({"batchItemFailures": [{"itemIdentifier": "123"}]}),
                {"FunctionResponseTypes": RBIF},
                0,
                id="spec9.1-rejected-item-response-is-no-error",
            ),
            pytest.param(
                returning({}),
                {"TumblingWindowInSeconds": 60},
                0,
                id="spec9.1-window-without-state-is-no-error",
            ),
        ],
    )
    def test_errors_count_function_errors_only(
        self, handler: Any, mapping: dict[str, Any], errors: int
    ) -> None:
        """Errors counts invocations whose function errored, not responses the mapping rejected; both are failed invocations (spec 9.1, 9.2)."""
        w = build(handler, records=1, MaximumRetryAttempts=2, MetricsConfig=EVENT_COUNT, **mapping)
        w.sim.run_until_idle()
        assert 3 == w.sim.metrics.sum("Invocations")
        assert errors == w.sim.metrics.sum("Errors")
        assert 3 == w.sim.metrics.sum("FailedInvokeEventCount")
        assert ["failure"] * 3 == [i.outcome for i in w.fn.invocations]

    def test_a_partial_response_is_no_error(self) -> None:
        """A partial batch response counts its events as failed, but not as a function error (spec 4, 9.1, 9.2)."""
        w = build(
            fail_items("k1"),
            records=2,
            FunctionResponseTypes=RBIF,
            MaximumRetryAttempts=0,
            MetricsConfig=EVENT_COUNT,
        )
        w.sim.run_until_idle()
        assert 0 == w.sim.metrics.sum("Errors")
        assert ["partial", "failure"] == [i.outcome for i in w.fn.invocations]
        assert 2 + 1 == w.sim.metrics.sum("FailedInvokeEventCount")


def timeline_results(text: str) -> list[str]:
    """The outcome column of each result line of a timeline."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        cols = line.split()
        if cols[2] == "result":
            out.append(cols[7])
    return out


def failed_column(text: str) -> int:
    """The "failed" cell of the first mapping of ``sim.fates().text()``."""
    lines = text.splitlines()
    headers = lines[0].split()
    return int(lines[2].split()[headers.index("failed")])


class TestViewsOfARejectedResponse:
    def test_timeline_shows_a_rejected_response_as_rejected(self) -> None:
        """The timeline shows a response the mapping failed as "rejected", not "ok" (spec 4)."""
        w = build(
            returning({"batchItemFailures": [{"itemIdentifier": "123"}]}),
            FunctionResponseTypes=RBIF,
            MaximumRetryAttempts=1,
        )
        w.sim.run_until_idle()
        assert ["rejected", "rejected"] == timeline_results(w.sim.timeline(uuid=w.uuid))

    def test_timeline_tells_errors_partials_and_successes_apart(self) -> None:
        """Function error, partial response and success each show as themselves (spec 3.1, 4)."""
        calls: list[int] = []

        def handler(event: dict[str, Any], context: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raising(event, context)
            if len(calls) == 2:
                return fail_items("k1")(event, context)
            return None

        w = build(handler, records=2, FunctionResponseTypes=RBIF)
        w.sim.run_until_idle()
        assert ["error", "partial", "ok"] == timeline_results(w.sim.timeline(uuid=w.uuid))

    @pytest.mark.parametrize(
        ("handler", "mapping"),
        [
            pytest.param(
                returning({"batchItemFailures": [{"itemIdentifier": "123"}]}),
                {"FunctionResponseTypes": RBIF},
                id="spec4-bad-itemIdentifier",
            ),
            pytest.param(returning({}), {"TumblingWindowInSeconds": 60}, id="spec6.3-no-state"),
        ],
    )
    def test_fates_count_rejected_invocations_as_failed(
        self, handler: Any, mapping: dict[str, Any]
    ) -> None:
        """sim.fates() counts every rejected invocation among the failed ones (spec 4, 6.3)."""
        w = build(handler, MaximumRetryAttempts=2, **mapping)
        w.sim.run_until_idle()
        assert 3 == failed_column(w.sim.fates(uuid=w.uuid).text())
        assert ["rejected"] * 3 == timeline_results(w.sim.timeline(uuid=w.uuid))
        assert {"destination": 1} == {k: v for k, v in w.sim.fate_counts(w.uuid).items() if v}
        check_all(w.sim)

    def test_fates_do_not_count_an_ignored_partial_response_as_failed(self) -> None:
        """Without ReportBatchItemFailures a partial response is a success: not failed, records processed (spec 4)."""
        w = build(first_record_failed, records=1)
        w.sim.run_until_idle()
        assert 0 == failed_column(w.sim.fates(uuid=w.uuid).text())
        assert ["ok"] == timeline_results(w.sim.timeline(uuid=w.uuid))
        assert "processed" == w.sim.fate(w.seqs[0]).outcome
