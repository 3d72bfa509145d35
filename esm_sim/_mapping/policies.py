"""
Pure decisions of the event source mapping, with no side effects.

Kept apart from the reader so the hardest AWS rules (what a partial batch
response means) can be tested with plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

COMPLETE_FAILURE = -1


def judge_item_failures(
    response: Any, sequence_numbers: Sequence[str], *, non_object_fails: bool = False
) -> int | None:
    """
    Read a ``ReportBatchItemFailures`` response (spec 4) against the batch it answers.

    Returns None for complete success, the index in the batch of the lowest
    reported record for a partial failure (the new checkpoint: that record and
    everything after it is retried), or ``COMPLETE_FAILURE``.

    - ``None``, ``""``, ``[]``, ``{}``, ``{"batchItemFailures": null}`` and
      ``{"batchItemFailures": []}`` are complete success (spec 4 table).
    - Keys are case-sensitive: a dict without the exact key ``batchItemFailures``
      is read as if the key were missing, so as success (spec 11 rows 2 and 25).
      So is any response that is not a JSON object (I: AWS reads only the key),
      unless ``non_object_fails``: then a non-object other than the documented
      empty values (``None``, ``""``, ``[]``) is a complete failure.
    - An entry without ``itemIdentifier``, with an empty, null or non-string one,
      or naming a record not in the batch, fails the whole batch (spec 4; I for
      a non-list ``batchItemFailures`` value, also read as complete failure).
    """
    if not isinstance(response, dict):
        if non_object_fails and response is not None and response not in ("", []):
            return COMPLETE_FAILURE  # the other reading of spec 4 (I)
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return None
    if not isinstance(failures, list):
        return COMPLETE_FAILURE
    if not failures:
        return None
    index_of = {seq: i for i, seq in enumerate(sequence_numbers)}
    lowest = len(sequence_numbers)
    for entry in failures:
        if not isinstance(entry, dict):
            return COMPLETE_FAILURE
        identifier = entry.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier:
            return COMPLETE_FAILURE
        i = index_of.get(identifier)
        if i is None:
            return COMPLETE_FAILURE
        lowest = min(lowest, i)
    return lowest


def bisect_halves(n: int, *, first_larger: bool = True) -> int:
    """
    Where a failing batch of ``n`` records splits (spec 3.4, I): the first half
    is the larger, ceil(n/2), or with ``first_larger`` False the smaller, floor(n/2).
    """
    return (n + 1) // 2 if first_larger else n // 2
