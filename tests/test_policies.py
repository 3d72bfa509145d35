"""
The mapping's decisions as pure functions (``esm_sim._mapping.policies``), one table row per rule.

Every row names the spec section (``/work/shared/spec/aws-esm-dynamodb.md``)
it checks in its id; "I" marks the simulator's documented reading where AWS
says nothing.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest

from esm_sim._mapping.policies import (
    FAILURE,
    PARTIAL,
    SUCCESS,
    Discard,
    Retry,
    Split,
    Verdict,
    after_failure,
    aged_prefix,
    backoff_ms,
    bisect_point,
    expired_prefix,
    judge,
    read_item_failures,
)
from esm_sim._streams.records import CREATED_MS

SEQS = ("100000000000000000100", "100000000000000000200", "100000000000000000300")
FIRST, SECOND, THIRD = SEQS


def failures(*identifiers: Any) -> dict[str, Any]:
    """A partial batch response naming these itemIdentifiers."""
    return {"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]}


def verdict(
    response: Any,
    *,
    error: str | None = None,
    error_type: str | None = None,
    rbif: bool = True,
    window: bool = False,
    final: bool = False,
    non_object_fails: bool = False,
) -> Verdict:
    """``judge`` on a three-record batch, with ReportBatchItemFailures on unless told."""
    return judge(
        error=error,
        error_type=error_type,
        response=response,
        sequence_numbers=SEQS,
        report_batch_item_failures=rbif,
        window=window,
        final=final,
        non_object_fails=non_object_fails,
    )


def reason_matches(pattern: str | None, reason: str | None) -> bool:
    """None expects no reason; a pattern expects a reason it finds (re.search)."""
    if pattern is None:
        return reason is None
    return reason is not None and re.search(pattern, reason) is not None


class TestJudgeFunctionError:
    @pytest.mark.parametrize(
        ("response", "kwargs"),
        [
            pytest.param(None, {}, id="spec3.1-plain"),
            pytest.param(failures(SECOND), {}, id="spec3.1-error-beats-a-partial-response"),
            pytest.param({"state": {"n": 1}}, {"window": True}, id="spec3.1-in-a-window"),
            pytest.param({"state": {}}, {"window": True, "final": True}, id="spec3.1-final"),
            pytest.param(failures(SECOND), {"rbif": False}, id="spec3.1-without-rbif"),
        ],
    )
    def test_a_function_error_fails_the_whole_batch(
        self, response: Any, kwargs: dict[str, Any]
    ) -> None:
        """A function error is a failure whatever the response, with a reason naming the error type (spec 3.1)."""
        v = verdict(response, error="Unhandled", error_type="ValueError", **kwargs)
        assert (FAILURE, None, None) == (v.outcome, v.resume_at, v.state_json)
        assert v.reason is not None
        assert "ValueError" in v.reason

    @pytest.mark.parametrize(
        "error_type", ["ValueError", "Runtime.ExitError", "Sandbox.Timedout"], ids=str
    )
    def test_the_reason_names_the_error_type(self, error_type: str) -> None:
        """The reason says which error the function had (spec 3.1)."""
        v = verdict(None, error="Unhandled", error_type=error_type)
        assert f"the function failed ({error_type})" == v.reason


class TestJudgeTumblingWindow:
    @pytest.mark.parametrize(
        "response",
        [
            pytest.param(None, id="spec6.3-null"),
            pytest.param({}, id="spec6.3-empty-object"),
            pytest.param({"state": None}, id="spec6.3-state-null"),
            pytest.param({"state": []}, id="spec6.3-state-a-list"),
            pytest.param({"state": "n=1"}, id="spec6.3-state-a-string"),
            pytest.param({"State": {"n": 1}}, id="spec6.3-capitalised-State"),
            pytest.param([{"state": {}}], id="spec6.3-not-an-object"),
            pytest.param(failures(SECOND), id="spec6.3-item-failures-but-no-state"),
        ],
    )
    @pytest.mark.parametrize("final", [False, True], ids=["aggregation", "final"])
    def test_a_response_without_a_state_object_is_a_failure(
        self, response: Any, final: bool
    ) -> None:
        """A window's response must hold a 'state' object, or the invocation failed; the reason says so (spec 6.3)."""
        v = verdict(response, window=True, final=final)
        assert (FAILURE, None) == (v.outcome, v.state_json)
        assert v.reason is not None
        assert "state" in v.reason

    def test_final_with_state_is_a_success_with_no_reason(self) -> None:
        """A final invocation that returns a state object succeeded (spec 6.3)."""
        v = verdict({"state": {"n": 3}}, window=True, final=True)
        assert Verdict(outcome=SUCCESS, state_json='{"n":3}') == v

    def test_final_takes_no_item_failures(self) -> None:
        """A final invocation carries no records: a batchItemFailures beside its state is not read (spec 6.3, I)."""
        v = verdict(
            {"state": {}, "batchItemFailures": [{"itemIdentifier": ""}]}, window=True, final=True
        )
        assert Verdict(outcome=SUCCESS, state_json="{}") == v

    def test_aggregation_with_state_is_a_success_carrying_the_state(self) -> None:
        """An aggregation invocation's state is kept as compact JSON for the next invocation (spec 6.2, 6.3)."""
        v = verdict({"state": {"seen": ["a", "b"], "n": 2}}, window=True)
        assert Verdict(outcome=SUCCESS, state_json='{"seen":["a","b"],"n":2}') == v

    def test_partial_response_in_a_window_keeps_its_state(self) -> None:
        """With a state, a partial response in a window is partial and the state goes on (spec 4, 6.3, I)."""
        v = verdict({"state": {"n": 1}, **failures(SECOND)}, window=True)
        assert (PARTIAL, 1, '{"n":1}') == (v.outcome, v.resume_at, v.state_json)

    def test_item_failures_without_rbif_in_a_window(self) -> None:
        """Without ReportBatchItemFailures a window's item failures are ignored, its state kept (spec 4, 6.3)."""
        v = verdict({"state": {}, **failures(SECOND)}, window=True, rbif=False)
        assert (SUCCESS, "{}") == (v.outcome, v.state_json)
        assert v.reason is not None
        assert "ReportBatchItemFailures" in v.reason


# spec 4's table of responses under ReportBatchItemFailures, row by row:
# (response, outcome, resume_at, a pattern the reason must match or None for no reason).
SPEC4_ROWS = [
    pytest.param({"batchItemFailures": []}, SUCCESS, None, None, id="spec4-empty-list"),
    pytest.param({"batchItemFailures": None}, SUCCESS, None, None, id="spec4-null-list"),
    pytest.param({}, SUCCESS, None, None, id="spec4-empty-object"),
    pytest.param(None, SUCCESS, None, None, id="spec4-None"),
    pytest.param([], SUCCESS, None, None, id="spec4-empty-list-as-response"),
    pytest.param("", SUCCESS, None, None, id="spec4-empty-string"),
    pytest.param({"other": 1}, SUCCESS, None, None, id="spec4-no-batchItemFailures-key"),
    pytest.param(
        failures(SECOND), PARTIAL, 1, rf"record {SECOND}", id="spec4-valid-id-partial-at-it"
    ),
    pytest.param(
        failures(THIRD, SECOND), PARTIAL, 1, rf"record {SECOND}", id="spec4-several-ids-lowest"
    ),
    pytest.param(
        failures(THIRD, THIRD), PARTIAL, 2, rf"record {THIRD}", id="spec4-the-same-id-twice"
    ),
    pytest.param(
        failures(FIRST),
        FAILURE,
        None,
        r"first record.*no progress",
        id="spec4-first-record-no-progress",
    ),
    pytest.param(
        failures(THIRD, FIRST), FAILURE, None, r"no progress", id="spec4-several-ids-lowest-first"
    ),
    pytest.param(failures(""), FAILURE, None, r"itemIdentifier.*''", id="spec4-empty-id"),
    pytest.param(failures(None), FAILURE, None, r"itemIdentifier.*None", id="spec4-null-id"),
    pytest.param(
        {"batchItemFailures": [{"foo": 123}]},
        FAILURE,
        None,
        r"itemIdentifier",
        id="spec4-wrong-key",
    ),
    pytest.param(
        {"batchItemFailures": [{"foo": None}]},
        FAILURE,
        None,
        r"itemIdentifier",
        id="spec4-wrong-key-null",
    ),
    pytest.param(
        {"batchItemFailures": [{"ItemIdentifier": SECOND}]},
        FAILURE,
        None,
        r"itemIdentifier",
        id="spec11.25-capitalised-ItemIdentifier-is-a-wrong-key",
    ),
    pytest.param(
        failures("123"),
        FAILURE,
        None,
        r"'123' is not a record of the batch",
        id="spec4-id-not-in-batch",
    ),
    pytest.param(
        failures(SECOND, "123"), FAILURE, None, r"'123'", id="spec4-one-id-not-in-batch-fails-all"
    ),
    pytest.param(
        failures(int(SECOND)), FAILURE, None, r"not a string", id="spec4-I-a-number-not-a-string"
    ),
    pytest.param(
        {"batchItemFailures": {"itemIdentifier": SECOND}},
        FAILURE,
        None,
        r"not a list",
        id="spec4-I-non-list-object",
    ),
    pytest.param(
        {"batchItemFailures": SECOND}, FAILURE, None, r"not a list", id="spec4-I-non-list-string"
    ),
    pytest.param(
        {"batchItemFailures": [SECOND]},
        FAILURE,
        None,
        r"entry is not an object",
        id="spec4-I-non-dict-entry",
    ),
    pytest.param(
        {"batchItemFailures": [{"itemIdentifier": SECOND}, None]},
        FAILURE,
        None,
        r"entry is not an object",
        id="spec4-I-a-null-entry-after-a-good-one",
    ),
    pytest.param(
        {"BatchItemFailures": [{"itemIdentifier": SECOND}]},
        SUCCESS,
        None,
        r"case-sensitive",
        id="spec4-spec11.2-capitalised-BatchItemFailures",
    ),
    pytest.param(
        {"batchitemfailures": [{"itemIdentifier": SECOND}]},
        SUCCESS,
        None,
        r"case-sensitive",
        id="spec11.2-lower-case-batchitemfailures",
    ),
    pytest.param(42, SUCCESS, None, r"not a JSON object", id="spec11.25-I-non-object-42"),
    pytest.param("ok", SUCCESS, None, r"not a JSON object", id="spec11.25-I-non-object-string"),
    pytest.param(
        [1], SUCCESS, None, r"not a JSON object", id="spec11.25-I-non-object-non-empty-list"
    ),
]


class TestJudgeItemFailures:
    @pytest.mark.parametrize(("response", "outcome", "resume_at", "reason"), SPEC4_ROWS)
    def test_spec4_table(
        self, response: Any, outcome: str, resume_at: int | None, reason: str | None
    ) -> None:
        """Each response of spec 4's table (and the simulator's readings) gets its outcome, resume point and reason."""
        v = verdict(response)
        assert (outcome, resume_at) == (v.outcome, v.resume_at)
        assert reason_matches(reason, v.reason), v.reason
        assert v.state_json is None

    @pytest.mark.parametrize(
        ("response", "outcome"),
        [
            pytest.param(42, FAILURE, id="spec11.25-I-42"),
            pytest.param("ok", FAILURE, id="spec11.25-I-string"),
            pytest.param([1], FAILURE, id="spec11.25-I-non-empty-list"),
            pytest.param(None, SUCCESS, id="spec4-None-still-succeeds"),
            pytest.param("", SUCCESS, id="spec4-empty-string-still-succeeds"),
            pytest.param([], SUCCESS, id="spec4-empty-list-still-succeeds"),
        ],
    )
    def test_non_object_fails_makes_other_non_objects_failures(
        self, response: Any, outcome: str
    ) -> None:
        """With non_object_response="failure" a non-object response fails the batch, except the recorded successes (spec 4, 11 row 25, I)."""
        v = verdict(response, non_object_fails=True)
        assert outcome == v.outcome
        if outcome == FAILURE:
            assert v.reason is not None
            assert "not a JSON object" in v.reason
        else:
            assert v.reason is None

    @pytest.mark.parametrize(
        "response",
        [
            pytest.param(failures(SECOND), id="spec4-valid-id"),
            pytest.param(failures(FIRST), id="spec4-first-record"),
            pytest.param(failures(""), id="spec4-empty-id"),
            pytest.param({"batchItemFailures": [{"foo": 1}]}, id="spec4-wrong-key"),
            pytest.param({"batchItemFailures": "x"}, id="spec4-non-list"),
        ],
    )
    def test_item_failures_without_rbif_are_ignored_with_a_reason(self, response: Any) -> None:
        """A partial response is ignored unless the mapping has ReportBatchItemFailures: success, with a reason naming it (spec 4)."""
        v = verdict(response, rbif=False)
        assert (SUCCESS, None) == (v.outcome, v.resume_at)
        assert v.reason is not None
        assert "ReportBatchItemFailures" in v.reason

    @pytest.mark.parametrize(
        "response",
        [
            pytest.param(None, id="spec4-None"),
            pytest.param({"batchItemFailures": []}, id="spec4-empty-list"),
            pytest.param({"ok": True}, id="spec4-other-object"),
            pytest.param(42, id="spec4-I-non-object-ignored-without-rbif"),
        ],
    )
    def test_without_rbif_a_response_with_no_item_failures_is_a_plain_success(
        self, response: Any
    ) -> None:
        """Without ReportBatchItemFailures only a non-empty batchItemFailures earns a reason (spec 4)."""
        assert Verdict(outcome=SUCCESS) == verdict(response, rbif=False, non_object_fails=True)


class TestReadItemFailures:
    @pytest.mark.parametrize(
        ("response", "expected"),
        [
            pytest.param(None, (None, None), id="spec4-success-is-None"),
            pytest.param(failures(THIRD, SECOND), (1, None), id="spec4-lowest-index"),
            pytest.param(failures(FIRST), (0, None), id="spec4-first-record-index-0"),
            pytest.param(
                failures("9"),
                (-1, "itemIdentifier '9' is not a record of the batch"),
                id="spec4-failure-is-minus-1",
            ),
        ],
    )
    def test_returns_index_and_reason(self, response: Any, expected: tuple[Any, Any]) -> None:
        """read_item_failures gives None for success, -1 for complete failure, else the lowest index (spec 4)."""
        assert expected == read_item_failures(response, SEQS)


class TestVerdict:
    def test_is_immutable(self) -> None:
        """A verdict is a frozen value: recorded once, never changed afterwards."""
        v = Verdict(outcome=SUCCESS)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            v.outcome = FAILURE  # type: ignore[misc]


# after_failure: the defaults of a failed attempt, changed per row.
BASE: dict[str, Any] = {
    "size": 4,
    "retries_used": 0,
    "function_error": True,
    "final": False,
    "bisect": True,
    "maximum_retry_attempts": 2,
    "backoff_base_ms": 1000,
    "backoff_max_ms": 60_000,
    "first_half_larger": True,
    "split_resets_retries": False,
}


class TestAfterFailure:
    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            pytest.param({}, Split(2, 0), id="spec3.4-function-error-splits"),
            pytest.param({"size": 5}, Split(3, 0), id="spec3.4-I-first-half-larger"),
            pytest.param(
                {"size": 5, "first_half_larger": False},
                Split(2, 0),
                id="spec3.4-I-first-half-smaller",
            ),
            pytest.param({"size": 2}, Split(1, 0), id="spec3.4-two-records-split-in-ones"),
            pytest.param(
                {"function_error": False}, Retry(1000), id="spec3.4-rejected-response-never-splits"
            ),
            pytest.param({"bisect": False}, Retry(1000), id="spec3.4-bisect-off-retries"),
            pytest.param({"size": 1}, Retry(1000), id="spec3.4-I-size-1-never-splits"),
            pytest.param(
                {"size": 1, "retries_used": 2},
                Discard("RetryAttemptsExhausted"),
                id="spec3.4-I-size-1-retried-then-discarded",
            ),
            pytest.param({"final": True}, Retry(1000), id="spec6.3-I-final-never-splits"),
            pytest.param(
                {"final": True, "size": 0}, Retry(1000), id="spec6.3-I-final-without-records"
            ),
            pytest.param({"retries_used": 2}, Split(2, 2), id="spec3.4-I-split-keeps-retries"),
            pytest.param(
                {"retries_used": 2, "split_resets_retries": True},
                Split(2, 0),
                id="spec3.4-I-split-resets-retries",
            ),
            pytest.param({"retries_used": 9}, Split(2, 9), id="spec3.4-splitting-uses-no-retry"),
        ],
    )
    def test_split_or_retry(self, changes: dict[str, Any], expected: Any) -> None:
        """A function error with bisect on splits a batch of 2 or more; anything else retries (spec 3.4)."""
        assert expected == after_failure(**{**BASE, **changes})

    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            pytest.param({"retries_used": 0}, Retry(1000), id="spec3.2-first-retry"),
            pytest.param({"retries_used": 1}, Retry(2000), id="spec3.2-second-retry"),
            pytest.param(
                {"retries_used": 2},
                Discard("RetryAttemptsExhausted"),
                id="spec3.2-N-retries-then-discard",
            ),
            pytest.param(
                {"maximum_retry_attempts": 0},
                Discard("RetryAttemptsExhausted"),
                id="spec3.2-zero-retries-discards-at-once",
            ),
            pytest.param(
                {"maximum_retry_attempts": 10_000, "retries_used": 10_000},
                Discard("RetryAttemptsExhausted"),
                id="spec3.2-the-maximum-10000",
            ),
            pytest.param(
                {"maximum_retry_attempts": -1, "retries_used": 10**6},
                Retry(60_000),
                id="spec3.2-minus-1-never-discards",
            ),
            pytest.param(
                {"final": True, "retries_used": 2},
                Discard("RetryAttemptsExhausted"),
                id="spec6.1-final-obeys-retries",
            ),
        ],
    )
    def test_retry_limit(self, changes: dict[str, Any], expected: Any) -> None:
        """N retries after the first attempt, then RetryAttemptsExhausted; -1 never gives up (spec 3.2)."""
        assert expected == after_failure(**{**BASE, "function_error": False, **changes})

    @pytest.mark.parametrize(
        ("retries_used", "delay_ms"),
        [
            pytest.param(0, 1000, id="spec3.2-I-retry-1-base"),
            pytest.param(1, 2000, id="spec3.2-I-retry-2-doubles"),
            pytest.param(2, 4000, id="spec3.2-I-retry-3-doubles"),
            pytest.param(5, 32_000, id="spec3.2-I-retry-6"),
            pytest.param(6, 60_000, id="spec3.2-I-retry-7-capped"),
            pytest.param(500, 60_000, id="spec3.2-I-retry-501-capped"),
        ],
    )
    def test_backoff_doubles_and_caps(self, retries_used: int, delay_ms: int) -> None:
        """The wait before each retry doubles from the base and stops at the cap (spec 3.2, I)."""
        decision = after_failure(
            **{**BASE, "bisect": False, "maximum_retry_attempts": -1, "retries_used": retries_used}
        )
        assert Retry(delay_ms) == decision


class TestBackoffMs:
    @pytest.mark.parametrize(
        ("attempt", "base_ms", "max_ms", "expected"),
        [
            pytest.param(0, 1000, 60_000, 0, id="spec3.2-I-no-attempt-no-wait"),
            pytest.param(1, 1000, 60_000, 1000, id="spec3.2-I-first-is-base"),
            pytest.param(4, 1000, 60_000, 8000, id="spec3.2-I-doubling"),
            pytest.param(7, 1000, 60_000, 60_000, id="spec3.2-I-cap"),
            pytest.param(10**6, 1000, 60_000, 60_000, id="spec3.2-I-huge-attempt-capped"),
            pytest.param(3, 0, 60_000, 0, id="spec3.2-I-zero-base"),
            pytest.param(3, 250, 500, 500, id="spec3.2-I-small-cap"),
        ],
    )
    def test_backoff(self, attempt: int, base_ms: int, max_ms: int, expected: int) -> None:
        """Retry n waits base * 2**(n-1), capped at the maximum (spec 3.2, I)."""
        assert expected == backoff_ms(attempt, base_ms, max_ms)


class TestBisectPoint:
    @pytest.mark.parametrize(
        ("n", "first_larger", "expected"),
        [
            pytest.param(2, True, 1, id="spec3.4-I-2-larger"),
            pytest.param(2, False, 1, id="spec3.4-I-2-smaller"),
            pytest.param(3, True, 2, id="spec3.4-I-3-first-larger"),
            pytest.param(3, False, 1, id="spec3.4-I-3-first-smaller"),
            pytest.param(10, True, 5, id="spec3.4-I-even-halves"),
            pytest.param(10_000, False, 5000, id="spec3.4-I-batch-size-maximum"),
            pytest.param(7, True, 4, id="spec3.4-I-7-ceil"),
            pytest.param(7, False, 3, id="spec3.4-I-7-floor"),
        ],
    )
    def test_bisect_point(self, n: int, first_larger: bool, expected: int) -> None:
        """The first half holds ceil(n/2) records, or floor(n/2) when it is the smaller (spec 3.4, I)."""
        assert expected == bisect_point(n, first_larger=first_larger)

    def test_the_first_half_is_the_larger_by_default(self) -> None:
        """Without first_larger, the first half is ceil(n/2) (spec 3.4, I)."""
        assert 3 == bisect_point(5)


def _written_at(created_ms: int) -> Any:
    """A stream record (only its write time matters here)."""
    record: list[Any] = [0] * 9
    record[CREATED_MS] = created_ms
    return tuple(record)


class TestExpiredPrefix:
    @pytest.mark.parametrize(
        ("created_ms", "expected"),
        [
            pytest.param([], 0, id="spec7.1-nothing"),
            pytest.param([9_000, 9_500], 0, id="spec7.1-all-younger"),
            pytest.param([4_000], 1, id="spec7.1-equal-to-cutoff-has-left"),
            pytest.param([4_001], 0, id="spec7.1-one-ms-younger-stays"),
            pytest.param([1_000, 3_999, 4_000, 4_001], 3, id="spec7.1-up-to-the-cutoff"),
            pytest.param([1_000, 2_000], 2, id="spec7.1-all-gone"),
            pytest.param([1_000, 5_000, 2_000], 1, id="spec7.1-a-prefix-only"),
        ],
    )
    def test_expired_prefix(self, created_ms: list[int], expected: int) -> None:
        """Records written retention_ms or more before now have left the stream (spec 7.1)."""
        records = [_written_at(ms) for ms in created_ms]
        assert expected == expired_prefix(records, now_ms=10_000, retention_ms=6_000)


class TestAgedPrefix:
    @pytest.mark.parametrize(
        ("created_ms", "maximum_record_age_ms", "expected"),
        [
            pytest.param([], 6_000, 0, id="spec3.2-nothing"),
            pytest.param([4_000], 6_000, 0, id="spec3.2-equal-to-cutoff-is-not-older"),
            pytest.param([3_999], 6_000, 1, id="spec3.2-one-ms-older-is-aged"),
            pytest.param(
                [1_000, 3_999, 4_000, 9_000], 6_000, 2, id="spec3.3-only-the-older-prefix"
            ),
            pytest.param([1_000, 2_000], 6_000, 2, id="spec3.3-all-aged"),
            pytest.param([1_000, 9_000, 2_000], 6_000, 1, id="spec3.3-a-prefix-only"),
            pytest.param([0, 1], -1, 0, id="spec3.2-minus-1-never-ages"),
        ],
    )
    def test_aged_prefix(
        self, created_ms: list[int], maximum_record_age_ms: int, expected: int
    ) -> None:
        """Records older than MaximumRecordAgeInSeconds are split off; -1 keeps every record (spec 3.2, 3.3)."""
        records = [_written_at(ms) for ms in created_ms]
        assert expected == aged_prefix(
            records, now_ms=10_000, maximum_record_age_ms=maximum_record_age_ms
        )
