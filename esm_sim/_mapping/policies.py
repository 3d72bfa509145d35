"""
The event source mapping's decisions, as pure functions that return small immutable values.

Every rule of what the mapping does with a batch lives here, and only here:

- :func:`judge` reads one invocation's answer (Lambda's view: did the function
  error; the response after its trip through JSON) against the batch it
  answered and the settings it was sent under, and returns a :class:`Verdict`:
  the mapping's view of the batch (``"success"``, ``"partial"`` or
  ``"failure"``), why in a sentence when it was not a plain success, where a
  partial response resumes, and a tumbling window's new state (spec 4, 6.3).
- :func:`after_failure` says what follows a failed attempt: a :class:`Retry`
  after a delay, a :class:`Split` at a point, or a :class:`Discard` with AWS's
  condition (spec 3.2, 3.4, 3.5).
- :func:`expired_prefix` and :func:`aged_prefix` say which leading records
  the stream's retention and ``MaximumRecordAgeInSeconds`` cut off (spec 7.1,
  3.2, 3.3).

The reader asks, the runtime records each answer once (the ``result`` trace
row, ``Invocation.outcome`` and ``Invocation.reason``), and metrics, fates,
views and invariants read what was recorded: nothing judges a response twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from esm_sim._streams.records import CREATED_MS, Record

SUCCESS = "success"
PARTIAL = "partial"
FAILURE = "failure"


@attrs.frozen(kw_only=True)
class Verdict:
    """
    The mapping's judgement of one invocation's answer.

    Attributes:
        outcome: "success", "partial" or "failure".
        reason: a short sentence whenever the batch did not plainly succeed or
            the response was not taken at its word; None for a plain success.
        resume_at: for "partial", the index in the batch of the first record to
            retry (everything before it is done).
        state_json: for a tumbling window, the state the response returned, as
            compact JSON text; None otherwise.
    """

    outcome: str
    reason: str | None = None
    resume_at: int | None = None
    state_json: str | None = None


def judge(
    *,
    error: str | None,
    error_type: str | None,
    response: Any,
    sequence_numbers: Sequence[str],
    report_batch_item_failures: bool,
    window: bool,
    final: bool,
    non_object_fails: bool,
) -> Verdict:
    """
    Judge one invocation's answer (spec 3.1, 4, 6.3).

    Args:
        error, error_type: Lambda's view (``"Unhandled"`` and how), or None.
        response: the response after its trip through JSON.
        sequence_numbers: the batch's records, as text.
        report_batch_item_failures: whether the mapping had
            ``ReportBatchItemFailures`` when it sent the batch.
        window: whether the batch belongs to a tumbling window.
        final: whether it is a window's final invocation.
        non_object_fails: ``Simulation(non_object_response="failure")``.
    """
    if error is not None:
        # spec 3.1: a function error fails the whole batch.
        return Verdict(outcome=FAILURE, reason=f"the function failed ({error_type})")
    state_json = None
    if window:
        # spec 6.3: the response must hold a state object, or the invocation failed.
        state = response.get("state") if isinstance(response, dict) else None
        if not isinstance(state, dict):
            return Verdict(
                outcome=FAILURE,
                reason="the response has no 'state' object (tumbling window, spec 6.3)",
            )
        state_json = json.dumps(state, separators=(",", ":"))
        if final:
            return Verdict(outcome=SUCCESS, state_json=state_json)
    if not report_batch_item_failures:
        if isinstance(response, dict) and response.get("batchItemFailures"):
            # spec 4: a partial response is ignored unless the mapping reports them.
            return Verdict(
                outcome=SUCCESS,
                reason="batchItemFailures ignored: the mapping lacks ReportBatchItemFailures",
                state_json=state_json,
            )
        return Verdict(outcome=SUCCESS, state_json=state_json)
    index, reason = read_item_failures(response, sequence_numbers, non_object_fails)
    if index is None:
        return Verdict(outcome=SUCCESS, reason=reason, state_json=state_json)
    if index < 0:
        return Verdict(outcome=FAILURE, reason=reason, state_json=state_json)
    if index == 0:
        # spec 4: no progress; a failed attempt of the same batch.
        return Verdict(
            outcome=FAILURE,
            reason="the batch's first record was reported failed (no progress)",
            state_json=state_json,
        )
    return Verdict(
        outcome=PARTIAL,
        reason=f"item failure from record {sequence_numbers[index]}",
        resume_at=index,
        state_json=state_json,
    )


def read_item_failures(
    response: Any, sequence_numbers: Sequence[str], non_object_fails: bool = False
) -> tuple[int | None, str | None]:
    """
    Read a ``ReportBatchItemFailures`` response (spec 4 table) against its batch.

    Returns ``(index, reason)``: index None for complete success, -1 for a
    complete failure, else the position in the batch of the lowest reported
    record. ``reason`` explains a failure, or a success that was not taken at
    the response's word (e.g. a non-object response).

    - ``None``, ``""``, ``[]``, ``{}``, ``{"batchItemFailures": null}`` and
      ``{"batchItemFailures": []}`` are complete success.
    - Keys are case-sensitive: a dict without the exact key ``batchItemFailures``
      is success (spec 11 rows 2 and 25). So is any other non-object response,
      unless ``non_object_fails`` (I): then it is a complete failure.
    - An entry that is not an object, lacks ``itemIdentifier``, has an empty,
      null or non-string one, or names a record not in the batch fails the
      whole batch; so does a ``batchItemFailures`` that is not a list (I).
    """
    if not isinstance(response, dict):
        if response is None or response in ("", []):
            return None, None
        if non_object_fails:
            return -1, "the response is not a JSON object (non_object_response='failure')"
        return None, "the response is not a JSON object: read as success"
    failures = response.get("batchItemFailures")
    if failures is None:
        if "batchItemFailures" not in response and any(
            isinstance(k, str) and k.lower() == "batchitemfailures" for k in response
        ):
            return None, "no exact 'batchItemFailures' key (keys are case-sensitive): success"
        return None, None
    if not isinstance(failures, list):
        return -1, "batchItemFailures is not a list"
    if not failures:
        return None, None
    index_of = {seq: i for i, seq in enumerate(sequence_numbers)}
    lowest = len(sequence_numbers)
    for entry in failures:
        if not isinstance(entry, dict):
            return -1, "a batchItemFailures entry is not an object"
        identifier = entry.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier:
            return -1, f"an itemIdentifier is missing, empty or not a string: {identifier!r}"
        i = index_of.get(identifier)
        if i is None:
            return -1, f"itemIdentifier {identifier!r} is not a record of the batch"
        lowest = min(lowest, i)
    return lowest, None


@attrs.frozen
class Retry:
    """Try the same batch again after ``delay_ms``."""

    delay_ms: int


@attrs.frozen
class Split:
    """Bisect: the first ``at`` records form one half, the rest the other (spec 3.4)."""

    at: int
    retries: int  # the retry count both halves start with


@attrs.frozen
class Discard:
    """Give up on the batch with AWS's condition (spec 3.5)."""

    condition: str


def after_failure(
    *,
    size: int,
    retries_used: int,
    function_error: bool,
    final: bool,
    bisect: bool,
    maximum_retry_attempts: int,
    backoff_base_ms: int,
    backoff_max_ms: int,
    first_half_larger: bool,
    split_resets_retries: bool,
) -> Retry | Split | Discard:
    """
    What follows a failed attempt of a batch of ``size`` records that had used
    ``retries_used`` retries before it.

    - spec 3.4: on a function error, with bisect on, a batch of 2 or more is
      split; splitting uses no retry. A window's final invocation never splits.
    - spec 3.2: otherwise the attempt uses a retry; past ``MaximumRetryAttempts``
      (-1: never) the batch is discarded as ``RetryAttemptsExhausted``.
    - spec 3.2 (I): the wait before retry n is the exponential backoff.
    """
    if function_error and bisect and size > 1 and not final:
        retries = 0 if split_resets_retries else retries_used
        return Split(bisect_point(size, first_larger=first_half_larger), retries)
    used = retries_used + 1
    if maximum_retry_attempts != -1 and used > maximum_retry_attempts:
        return Discard("RetryAttemptsExhausted")
    return Retry(backoff_ms(used, backoff_base_ms, backoff_max_ms))


def bisect_point(n: int, *, first_larger: bool = True) -> int:
    """
    Where a failing batch of ``n`` records splits (spec 3.4, I): the first half
    is the larger, ceil(n/2), or with ``first_larger`` False the smaller, floor(n/2).
    """
    return (n + 1) // 2 if first_larger else n // 2


def backoff_ms(attempt: int, base_ms: int, max_ms: int) -> int:
    """The wait before retry number ``attempt`` (1-based): base doubling, capped (spec 3.2, I)."""
    if attempt < 1:
        return 0
    return min(base_ms << min(attempt - 1, 40), max_ms)


def expired_prefix(records: Sequence[Record], now_ms: int, retention_ms: int) -> int:
    """
    How many leading records have left the stream (spec 7.1: kept ``retention_ms``).

    Records are oldest first; the count stops at the first one still kept, so
    the usual answer, 0, costs one comparison.
    """
    cutoff = now_ms - retention_ms
    k = 0
    while k < len(records) and records[k][CREATED_MS] <= cutoff:
        k += 1
    return k


def aged_prefix(records: Sequence[Record], now_ms: int, maximum_record_age_ms: int) -> int:
    """
    How many leading records are past ``MaximumRecordAgeInSeconds`` (-1: none):
    they are discarded alone, the rest goes on (spec 3.2, 3.3).
    """
    if maximum_record_age_ms < 0:
        return 0
    cutoff = now_ms - maximum_record_age_ms
    k = 0
    while k < len(records) and records[k][CREATED_MS] < cutoff:
        k += 1
    return k
