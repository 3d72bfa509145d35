"""Timeline text, fates tables and HTML views, checked against the trace and the fates."""

from __future__ import annotations

from typing import Any

import pytest

import esm_sim
from esm_sim._demo import build_demo
from esm_sim._views import (
    TIMELINE_LEGEND,
    fate_html,
    invocation_html,
    invocation_spans,
    mapping_html,
)
from esm_sim.errors import ConfigError


@pytest.fixture(scope="module")
def demo() -> esm_sim.Simulation:
    """The built-in demo: 30 orders, order-17 poison, bisect, 2 retries, SQS destination."""
    return build_demo(0)


def partial_world() -> tuple[esm_sim.Simulation, esm_sim.Function]:
    sim = esm_sim.Simulation(seed=3)
    table = sim.create_table("orders", partition_key="pk")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        if len(records) == 4:
            return {
                "batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]
            }
        return {}

    fn = sim.create_function("fn", handler)
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    for i in range(4):
        table.put_item({"pk": f"k{i}"})
    sim.run_until_idle()
    return sim, fn


class TestTimeline:
    def test_one_line_per_trace_event_after_the_legend(self, demo: esm_sim.Simulation) -> None:
        """The timeline is the legend, then one line per trace event, in order."""
        lines = demo.timeline().splitlines()
        legend = TIMELINE_LEGEND.splitlines()
        assert legend == lines[: len(legend)]
        body = lines[len(legend) :]
        assert len(demo.trace) == len(body)
        assert [e.kind for e in demo.trace] == [line.split()[2] for line in body]

    def test_invoke_lines_carry_attempt_and_age(self, demo: esm_sim.Simulation) -> None:
        """An invoke line names the attempt of exactly those records and the iterator age."""
        invokes = [line for line in demo.timeline().splitlines() if "  invoke  " in line]
        assert len(demo.functions["process-orders"].invocations) == len(invokes)
        assert "attempt 1, age 5000ms" in invokes[0]
        # The poison record alone: attempts 1, 2, 3 (MaximumRetryAttempts 2).
        alone = [line for line in invokes if "100000000000000001800..100000000000000001800" in line]
        assert ["attempt 1", "attempt 2", "attempt 3"] == [line.split(", ")[1] for line in alone]

    def test_partial_response_shows_as_partial(self) -> None:
        """A ReportBatchItemFailures response listing a record is shown as partial."""
        sim, _fn = partial_world()
        results = [line for line in sim.timeline().splitlines() if "  result  " in line]
        assert ["partial", "ok"] == [line.split()[7] for line in results]

    def test_timeline_of_an_unknown_mapping_raises(self, demo: esm_sim.Simulation) -> None:
        """A uuid that names no mapping raises ConfigError."""
        with pytest.raises(ConfigError, match=r"uuid='nope' is not a mapping"):
            demo.timeline(uuid="nope")


class TestSpans:
    def test_spans_match_the_invocations(self, demo: esm_sim.Simulation) -> None:
        """Each span is one invocation: same request id, start, end and error state."""
        spans = invocation_spans(demo.trace)
        invocations = demo.functions["process-orders"].invocations
        assert [(i.request_id, i.started_ms, i.ended_ms) for i in invocations] == [
            (s.request_id, s.start_ms, s.end_ms) for s in spans
        ]
        assert ["error" if i.error else "ok" for i in invocations] == [s.outcome for s in spans]

    def test_redelivery_marks_records_sent_before(self, demo: esm_sim.Simulation) -> None:
        """Bisect halves and retries re-deliver; the first and last batches do not."""
        flags = [s.redelivery for s in invocation_spans(demo.trace)]
        assert [False, False, *[True] * 8, False] == flags

    def test_window_finals_count_tries_per_window_and_redeliver_nothing(self) -> None:
        """A tumbling window's final invocation (no records) is attempt 1 of its own window, never a redelivery; a retried final is attempt 2 of that window."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        finals = [0]

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if event["isFinalInvokeForWindow"]:
                finals[0] += 1
                if finals[0] == 2:
                    raise RuntimeError("second window's first final fails")
            return {"state": {}}

        sim.create_function("fn", handler)
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            TumblingWindowInSeconds=30,
        )
        for i in range(3):
            sim.call_later(40 * i, table.put_item, {"pk": f"k{i}"})
        sim.run_until_idle()
        finals_seen = [
            (s.attempt, s.redelivery) for s in invocation_spans(sim.trace) if not s.count
        ]
        assert [(1, False), (1, False), (2, False), (1, False)] == finals_seen


class TestFates:
    def test_summary_counts_equal_fate_counts(self, demo: esm_sim.Simulation) -> None:
        """sim.fates()[uuid] is sim.fate_counts(uuid)."""
        (uuid,) = demo.mappings
        summary = demo.fates()
        assert [uuid] == list(summary)
        assert demo.fate_counts(uuid) == summary[uuid]
        assert {"destination/RetryAttemptsExhausted": 1} == summary.reasons(uuid)

    def test_reasons_of_an_unknown_mapping_is_a_config_error_naming_it(
        self, demo: esm_sim.Simulation
    ) -> None:
        """fates().reasons(uuid) with a uuid the simulation lacks raises ConfigError naming it and the known ones."""
        (uuid,) = demo.mappings
        with pytest.raises(ConfigError, match=rf"^uuid='zz' is not a mapping .*'{uuid}'"):
            demo.fates().reasons("zz")
        with pytest.raises(ConfigError, match=r"^uuid=None is not a mapping"):
            demo.fates().reasons(None)  # type: ignore[arg-type]

    def test_text_table_has_a_row_per_mapping(self, demo: esm_sim.Simulation) -> None:
        """The text table shows invocations, failed ones and each outcome."""
        (uuid,) = demo.mappings
        header, _rule, row, reasons = demo.fates().text().splitlines()
        assert ["mapping", "function", "invocations", "failed", "processed"] == header.split()[:5]
        assert [uuid[:8], "process-orders", "11", "6", "29", "0", "1", "0", "0", "0", "0"] == (
            row.split()
        )
        assert f"{uuid[:8]}: destination/RetryAttemptsExhausted 1" == reasons

    def test_html_table(self, demo: esm_sim.Simulation) -> None:
        """The HTML table holds the same numbers as the text."""
        html = demo.fates()._repr_html_()
        assert html.startswith('<table class="esm-sim">')
        assert "<td>29</td>" in html
        assert "destination/RetryAttemptsExhausted 1" in html

    def test_history_of_the_poison_record(self, demo: esm_sim.Simulation) -> None:
        """A record's history lists each event about it and ends with its fate."""
        seq = "100000000000000001800"
        lines = demo.fates().history(seq).splitlines()
        fate = demo.fate(seq)
        kinds = [line.split()[1] for line in lines[1:-1]]
        assert len(fate.deliveries) == kinds.count("invoke")
        assert "discard" == kinds[-1]
        assert (
            "fate: destination (RetryAttemptsExhausted) -> "
            "arn:aws:sqs:us-east-1:123456789012:orders-dlq; delivered 6 time(s)"
        ) == lines[-1]


class TestHtml:
    def test_simulation_html_lists_mappings_and_fates(self, demo: esm_sim.Simulation) -> None:
        """The simulation's HTML names each mapping and shows the fates table."""
        (uuid,) = demo.mappings
        html = demo._repr_html_()
        assert f"<td>{uuid}</td>" in html
        assert "<td>29</td>" in html

    def test_object_html(self, demo: esm_sim.Simulation) -> None:
        """Fates, invocations and mappings render as HTML tables."""
        (uuid,) = demo.mappings
        fate = demo.fate("100000000000000001800")
        assert fate_html(fate).count("<tr>") == 1 + len(fate.deliveries)
        inv = demo.functions["process-orders"].invocations[1]
        assert "ValueError: cannot process order-17" in invocation_html(inv)
        assert "<td>BatchSize</td><td>10</td>" in mapping_html(demo.mappings[uuid])


class TestReprHtml:
    def test_fate_invocation_and_mapping_render_as_html(self) -> None:
        """Fate, Invocation and a mapping have _repr_html_ for notebooks, naming what they show."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        fn = sim.create_function("f", lambda e, c: None)
        uuid = sim.lambda_client.create_event_source_mapping(
            FunctionName="f", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
        )["UUID"]
        table.put_item({"pk": "a"})
        sim.run_until_idle()
        seq = table.shards[0].sequence_numbers[0]
        assert seq in sim.fate(seq)._repr_html_()
        assert fn.invocations[0].request_id[:8] in fn.invocations[0]._repr_html_()
        assert uuid[:8] in sim.mappings[uuid]._repr_html_()
