"""
Where each record ended, per mapping: the ledger the mapping keeps, and ``Fate``.

Every record a mapping is responsible for ends in exactly one place (issue 3):
``processed``, ``filtered``, ``destination``, ``dropped`` or ``expired``. Until
then it is ``pending``; a record written before a LATEST mapping started
reading is ``skipped`` (not this mapping's).

Only the exceptions are stored per record. A record below a reader's
checkpoint that is not in the ledger was processed, so the common case costs
no memory at all.
"""

from __future__ import annotations

from typing import Any

import attrs

OUTCOMES = ("processed", "filtered", "destination", "dropped", "expired")


@attrs.frozen(kw_only=True)
class Fate:
    """
    Where one record ended for one mapping.

    Attributes:
        sequence_number: the record's ``dynamodb.SequenceNumber``.
        mapping_uuid: the mapping this fate is for.
        outcome: "processed" | "filtered" | "destination" | "dropped" |
            "expired", or "pending" (not there yet) or "skipped" (before a
            LATEST mapping's start).
        reason: why, in words: e.g. "RetryAttemptsExhausted",
            "RecordAgeExceeded", "DestinationDeliveryFailed", "RetentionExpired".
        deliveries: the invocations that carried the record, in order.
        destination: the on-failure destination ARN, for outcome "destination".
    """

    sequence_number: str
    mapping_uuid: str
    outcome: str
    reason: str | None = None
    deliveries: tuple[Any, ...] = ()
    destination: str | None = None

    @property
    def final(self) -> bool:
        """Whether the record has reached its last place."""
        return self.outcome in OUTCOMES

    def _repr_html_(self) -> str:
        from esm_sim._views import fate_html  # views are for notebooks: imported on use

        return fate_html(self)


class Ledger:
    """The exceptions to "processed", per sequence number, and the counts per outcome."""

    __slots__ = ("counts", "entries")

    def __init__(self) -> None:
        self.entries: dict[int, tuple[str, str, str | None]] = {}
        self.counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)

    def mark(self, seqs: list[int], outcome: str, reason: str, destination: str | None) -> None:
        """Record that these records reached ``outcome``."""
        entry = (outcome, reason, destination)
        entries = self.entries
        added = 0
        for seq in seqs:
            if seq not in entries:
                added += 1
            entries[seq] = entry
        self.counts[outcome] += added

    def processed(self, n: int) -> None:
        """Count ``n`` records processed (they are not stored)."""
        self.counts["processed"] += n
