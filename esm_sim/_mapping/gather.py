"""
The gathering of one batch: GetRecords' caps and the 6 MB payload cap (spec 2, 7.2, 10).

Each poll is a GetRecords call of at most 1000 records or 1 MB (spec 7.2); a
batch closes at ``BatchSize`` or when the next record would take the
invocation's payload past 6 MB (spec 2, 10). The payload is judged on cheap
upper bounds of each record's JSON length and, only near the cap, on exact
lengths.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

from esm_sim._lambda.function import MAX_SYNC_PAYLOAD_BYTES
from esm_sim._streams.records import JSON_BOUND, SIZE_BYTES, Record, payload_len

GET_RECORDS_MAX_RECORDS = 1000  # spec 7.2
GET_RECORDS_MAX_BYTES = 1024 * 1024  # spec 7.2

_JSON_BOUND_OF = itemgetter(JSON_BOUND)
_SIZE_OF = itemgetter(SIZE_BYTES)


class Gathering:
    """
    The records gathered for the next batch, and where the reader stood when
    the first of them was read (``start``: records before it that were
    filtered in the same call belong to the batch's span).
    """

    __slots__ = ("exact", "exact_len", "json_bound", "records", "start")

    def __init__(self, exact_len: Callable[[Record], int]) -> None:
        self.records: list[Record] = []
        self.json_bound = 0  # sum of the records' JSON length upper bounds
        self.exact = -1  # their exact sum, once needed (near the 6 MB cap)
        self.start = -1
        self.exact_len = exact_len

    def __bool__(self) -> bool:
        return bool(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def take(self) -> tuple[list[Record], int]:
        """Hand over the gathered records and the span start; start afresh."""
        records, start = self.records, self.start
        self.clear()
        return records, start

    def clear(self) -> None:
        """Forget what was gathered."""
        self.records = []
        self.json_bound = 0
        self.exact = -1
        self.start = -1

    def fits_whole_call(self, records: list[Record]) -> bool:
        """
        Whether every record of one GetRecords call can join at once: their
        sizes stay within 1 MB and even their JSON upper bounds keep the
        payload under 6 MB (the common case, decided at C speed).
        """
        if self.exact >= 0:
            return False
        return (
            sum(map(_SIZE_OF, records)) <= GET_RECORDS_MAX_BYTES
            and payload_len(
                self.json_bound + sum(map(_JSON_BOUND_OF, records)),
                len(self.records) + len(records),
            )
            <= MAX_SYNC_PAYLOAD_BYTES
        )

    def extend(self, records: list[Record], start: int) -> None:
        """Add a whole call's records (after :meth:`fits_whole_call`)."""
        if not self.records:
            self.start = start
        self.records.extend(records)
        self.json_bound += sum(map(_JSON_BOUND_OF, records))

    def fits(self, record: Record) -> bool:
        """Whether one more record keeps the invocation payload within 6 MB (spec 2, 10)."""
        if not self.records:
            return True
        n = len(self.records) + 1
        if payload_len(self.json_bound + record[JSON_BOUND], n) <= MAX_SYNC_PAYLOAD_BYTES:
            return True
        # Near the cap the bounds are not enough: decide on exact lengths.
        if self.exact < 0:
            self.exact = sum(self.exact_len(r) for r in self.records)
        return payload_len(self.exact + self.exact_len(record), n) <= MAX_SYNC_PAYLOAD_BYTES

    def add(self, record: Record, start: int) -> None:
        """Add one record (after :meth:`fits`); ``start`` is the span start if it is the first."""
        if not self.records:
            self.start = start
        self.records.append(record)
        self.json_bound += record[JSON_BOUND]
        if self.exact >= 0:
            self.exact += self.exact_len(record)
