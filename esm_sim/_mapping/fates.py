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

from esm_sim._engine import display
from esm_sim._streams.records import SEQ, Record

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
        return display.html_of("fate", self)


class Ledger:
    """The exceptions to "processed", per sequence number, and the counts per outcome."""

    __slots__ = ("conflicts", "counts", "entries")

    def __init__(self) -> None:
        self.entries: dict[int, tuple[str, str | None, str | None]] = {}
        self.counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        # (sequence number, fate it has, fate something tried to give it again)
        self.conflicts: list[tuple[int, str, str]] = []

    def mark(
        self,
        records: list[Record],
        outcome: str,
        reason: str | None,
        destination: str | None,
        *,
        strict: bool = True,
    ) -> list[Record]:
        """
        Record that these records reached ``outcome``; returns those newly marked.

        A final fate is never left: a record already in the ledger keeps its
        entry. With ``strict`` (records of a batch, which can never be final
        already), a second, different fate is kept in ``conflicts`` for the
        invariants to report as a simulator bug; without it (retention or a
        filter sweeping over a run of records) a final record is passed over.
        """
        entry = (outcome, reason, destination)
        entries = self.entries
        fresh: list[Record] = []
        for record in records:
            seq = record[SEQ]
            old = entries.get(seq)
            if old is None:
                entries[seq] = entry
                fresh.append(record)
            elif strict and old[0] != outcome:
                self.conflicts.append((seq, old[0], outcome))
        self.counts[outcome] += len(fresh)
        return fresh

    def note_processed(self, seqs: list[int]) -> None:
        """
        Give records already counted processed an entry of their own (their
        reader is replaced, and its checkpoint no longer vouches for them).
        """
        for seq in seqs:
            self.entries.setdefault(seq, ("processed", None, None))

    def processed(self, n: int) -> None:
        """Count ``n`` records processed (they are not stored)."""
        self.counts["processed"] += n
