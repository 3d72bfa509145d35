"""
Anchors for ``benchmarks/run.py``: small hand-written models the project is measured against.

Pure standard library (SimPy is used only when installed, and only here). Every
anchor does the same work as its subject, so ``run.py`` can require equal
counters and an equal final virtual time (perf-notes section 5, D1):

* ``LeanScheduler`` / ``sched_lean``: the lean heapq callback engine (LeanCB)
  on the classic "processes x timeouts" workload; ``sched_simpy`` is the same
  workload on SimPy.
* ``write_records``: the lean write path (the table's current item, a compact
  record tuple, a CRC-32 hash-key-range route to a shard, ``SizeBytes`` and ``eventID`` computed
  once, eventID with the subject's own function so the events are identical),
  timed as part of the end-to-end anchors as ``put_item`` is part of the
  subject's cost.
* ``shard_process``: one shard reader of a DynamoDB-stream event source
  mapping, as a generator that yields virtual delays in ms. It follows the
  documented semantics of ``esm_sim/_mapping/reader.py`` (spec 3.2-3.5): batches
  of ``BatchSize`` read from the backlog back to back; a failing batch of more
  than one record is split, first half ``ceil(n/2)`` first, both halves invoked
  at once with the retry count they inherit; a failing batch of one waits
  1 s, 2 s, 4 s ... (capped at 60 s) and is discarded to the on-failure queue
  once its retries exceed ``MaximumRetryAttempts``. ``stream_lean`` drives it with
  a bare heapq loop, ``stream_simpy`` with SimPy. The GetRecords limits
  (1000 records, 1 MB) and the 6 MB payload cap cannot bind at BatchSize 100
  with tiny items, so the anchor leaves them out.
* ``tuple_records``: the plain-tuple memory and GC anchor.
"""

from __future__ import annotations

import heapq
import itertools
import json
import time
import zlib
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

try:  # optional anchor: the `bench` extra
    import simpy
except ImportError:  # pragma: no cover - depends on the environment
    simpy = None  # type: ignore[assignment]

HAVE_SIMPY = simpy is not None
SIMPY_VERSION: str | None = getattr(simpy, "__version__", None)

# ---------------------------------------------------------------------------
# B1: the classic DES workload
# ---------------------------------------------------------------------------


class LeanScheduler:
    """LeanCB: a heap of ``(t, seq, callback, arg)``, integer ms, FIFO on ties."""

    __slots__ = ("_heap", "_seq", "events", "now")

    def __init__(self) -> None:
        self.now = 0
        self._heap: list[tuple[int, int, Callable[[Any], object], Any]] = []
        self._seq = itertools.count()
        self.events = 0

    def call_later(self, delay: int, callback: Callable[[Any], object], arg: Any) -> None:
        """Run ``callback(arg)`` ``delay`` ms from now."""
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), callback, arg))

    def run(self) -> None:
        """Run until nothing is scheduled."""
        heap, pop = self._heap, heapq.heappop
        n = 0
        while heap:
            t, _, callback, arg = pop(heap)
            self.now = t
            n += 1
            callback(arg)
        self.events += n


def sched_lean(delays: Sequence[Sequence[int]]) -> tuple[int, int]:
    """Each process waits its delays one after another; returns (events, final time)."""
    sched = LeanScheduler()
    call_later = sched.call_later

    def step(it: Iterator[int]) -> None:
        d = next(it, None)
        if d is not None:
            call_later(d, step, it)

    for ds in delays:
        it = iter(ds)
        call_later(next(it), step, it)
    sched.run()
    return sched.events, sched.now


def sched_simpy(delays: Sequence[Sequence[int]]) -> tuple[int, int]:
    """The same workload as SimPy processes, one ``yield env.timeout(d)`` per delay."""
    assert simpy is not None
    env = simpy.Environment()
    timeout = env.timeout
    count = [0]

    def proc(ds: Sequence[int]) -> Generator[Any, Any, None]:
        for d in ds:
            yield timeout(d)
            count[0] += 1

    for ds in delays:
        env.process(proc(ds))
    env.run()
    return count[0], int(env.now)


# ---------------------------------------------------------------------------
# B5/B8: the stream consumer with AWS-shaped events
# ---------------------------------------------------------------------------

EVENT_VERSION = "1.1"
EVENT_SOURCE = "aws:dynamodb"
VIEW_TYPE = "NEW_AND_OLD_IMAGES"

# Lean record tuple fields.
R_SEQ, R_CREATED, R_NAME, R_KEYS, R_NEW, R_SIZE, R_ID = range(7)


class StreamSetup:
    """What the anchor's stream shares with the subject's, so the events are identical."""

    __slots__ = (
        "event_id",
        "region",
        "route_starts",
        "seq_base",
        "seq_step",
        "start_ms",
        "stream_arn",
    )

    def __init__(
        self,
        *,
        start_ms: int,
        stream_arn: str,
        region: str,
        event_id: Callable[[int], str],
        seq_base: int,
        seq_step: int,
        route_starts: Sequence[int],
    ) -> None:
        self.start_ms = start_ms
        self.stream_arn = stream_arn
        self.region = region
        self.event_id = event_id  # the stream's eventID of a sequence number
        self.seq_base = seq_base
        self.seq_step = seq_step
        # Shard i takes the CRC-32 hash keys from route_starts[i] (DynamoDB-style ranges).
        self.route_starts = list(route_starts)


def write_records(
    items: Sequence[dict[str, str]], shard_count: int, setup: StreamSetup, pk: str = "pk"
) -> tuple[list[list[tuple[Any, ...]]], dict[str, tuple[Any, int]]]:
    """
    The lean write path for items of string attributes: (shards, current items).

    Like ``Table.put_item``: the item becomes a sorted image, the table keeps it
    with its size, and an INSERT record with SizeBytes (and here eventID) computed
    once lands in the shard chosen by CRC-32 of the partition key.
    """
    shards: list[list[tuple[Any, ...]]] = [[] for _ in range(shard_count)]
    starts = setup.route_starts
    if len(starts) != shard_count:
        msg = f"shard_count={shard_count!r} but {len(starts)} hash-key ranges"
        raise ValueError(msg)
    current: dict[str, tuple[Any, int]] = {}
    now = setup.start_ms
    seq = setup.seq_base
    step = setup.seq_step
    event_id = setup.event_id
    crc32 = zlib.crc32
    for item in items:
        image = tuple(sorted((name, "S", value) for name, value in item.items()))
        size = sum(len(name) + len(value) for name, _, value in image)
        k = item[pk]
        keys = ((pk, "S", k),)
        if k in current:
            msg = "the lean anchor writes each key once (INSERT only)"
            raise ValueError(msg)
        current[k] = (image, size)
        seq += step
        rec = (seq, now, "INSERT", keys, image, len(pk) + len(k) + size, event_id(seq))
        shards[bisect_right(starts, crc32(b"S:" + k.encode())) - 1].append(rec)
    return shards, current


def _render(rec: tuple[Any, ...], region: str, arn: str) -> dict[str, Any]:
    # Fresh dicts per delivery (a handler may mutate its event), as Lambda does.
    return {
        "eventID": rec[R_ID],
        "eventName": rec[R_NAME],
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": region,
        "dynamodb": {
            "ApproximateCreationDateTime": float(rec[R_CREATED] // 1000),
            "Keys": {n: {t: v} for n, t, v in rec[R_KEYS]},
            "NewImage": {n: {t: v} for n, t, v in rec[R_NEW]},
            "SequenceNumber": str(rec[R_SEQ]),
            "SizeBytes": rec[R_SIZE],
            "StreamViewType": VIEW_TYPE,
        },
        "eventSourceARN": arn,
    }


class StreamCounters:
    """The work the stream anchors did (compared with the subject's)."""

    __slots__ = ("discarded", "dlq", "invocations", "processed")

    def __init__(self) -> None:
        self.invocations = 0
        self.processed = 0
        self.discarded = 0
        self.dlq: list[str] = []


def _iso(ms: int, with_ms: bool) -> str:
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return f"{text}.{ms % 1000:03d}Z" if with_ms else text + "Z"


def failure_record(
    *,
    request_no: int,
    function_arn: str,
    invokes: int,
    timestamp: str,
    shard_id: str,
    first: tuple[str, str],
    last: tuple[str, str],
    size: int,
    stream_arn: str,
) -> dict[str, Any]:
    """The on-failure destination record of a batch whose retries ran out (spec 3.5).

    ``first`` and ``last`` are (sequence number, approximate arrival) of the batch's ends.
    """
    return {
        "requestContext": {
            "requestId": f"{request_no:032x}",
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invokes,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": timestamp,
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first[0],
            "endSequenceNumber": last[0],
            "approximateArrivalOfFirstRecord": first[1],
            "approximateArrivalOfLastRecord": last[1],
            "batchSize": size,
            "streamArn": stream_arn,
        },
    }


def shard_process(
    records: list[tuple[Any, ...]],
    shard_id: str,
    *,
    setup: StreamSetup,
    handler: Callable[[dict[str, Any], Any], Any],
    duration: Callable[[dict[str, Any], Any], float],
    counters: StreamCounters,
    clock: Callable[[], int],
    batch_size: int,
    max_retries: int,
    function_arn: str,
    enable_ms: int,
) -> Iterator[int]:
    """
    One shard reader as a generator of virtual delays (ms); see the module docstring.

    ``clock()`` reads the driver's virtual time (for the failure record's timestamp).
    """
    region, arn = setup.region, setup.stream_arn
    yield enable_ms  # the mapping goes Creating -> Enabled
    pos, end = 0, len(records)
    while pos < end:
        halves: list[tuple[list[tuple[Any, ...]], int]] = [(records[pos : pos + batch_size], 0)]
        pos += batch_size
        while halves:
            batch, retries = halves.pop()
            invokes = 0
            while True:
                event = {"Records": [_render(r, region, arn) for r in batch]}
                counters.invocations += 1
                invokes += 1
                try:
                    handler(event, None)
                    ok = True
                except Exception:
                    ok = False
                yield round(duration(event, None) * 1000)
                if ok:
                    counters.processed += len(batch)
                    break
                n = len(batch)
                if n > 1:  # spec 3.4: split, first half first, retry count inherited
                    mid = (n + 1) // 2
                    halves.append((batch[mid:], retries))
                    batch = batch[:mid]
                    invokes = 0
                    continue
                retries += 1
                if retries > max_retries:  # spec 3.5: to the on-failure destination
                    now = clock()
                    counters.discarded += n
                    counters.dlq.append(
                        json.dumps(
                            failure_record(
                                request_no=counters.invocations,
                                function_arn=function_arn,
                                invokes=invokes,
                                timestamp=_iso(now, True),
                                shard_id=shard_id,
                                first=(str(batch[0][R_SEQ]), _iso(batch[0][R_CREATED], False)),
                                last=(str(batch[-1][R_SEQ]), _iso(batch[-1][R_CREATED], False)),
                                size=n,
                                stream_arn=arn,
                            )
                        )
                    )
                    break
                yield min(1000 << (retries - 1), 60_000)  # spec 3.2 (I): backoff


def stream_lean(shards: list[list[tuple[Any, ...]]], **kw: Any) -> tuple[StreamCounters, int]:
    """Drive one ``shard_process`` per shard with a bare heapq loop; (counters, end ms)."""
    counters = StreamCounters()
    now = [kw["setup"].start_ms]
    heap: list[tuple[int, int, Iterator[int]]] = []
    seq = itertools.count()
    for i, recs in enumerate(shards):
        gen = shard_process(recs, f"shard-{i}", counters=counters, clock=lambda: now[0], **kw)
        heap.append((now[0] + next(gen), next(seq), gen))
    heapq.heapify(heap)
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        t, _, gen = pop(heap)
        now[0] = t
        d = next(gen, None)
        if d is not None:
            push(heap, (t + d, next(seq), gen))
    return counters, now[0]


def stream_simpy(shards: list[list[tuple[Any, ...]]], **kw: Any) -> tuple[StreamCounters, int]:
    """The same shard processes as SimPy processes; (counters, end ms)."""
    assert simpy is not None
    start = kw["setup"].start_ms
    env = simpy.Environment(initial_time=start)
    counters = StreamCounters()
    timeout = env.timeout

    def proc(gen: Iterator[int]) -> Generator[Any, Any, None]:
        for d in gen:
            yield timeout(d)

    for i, recs in enumerate(shards):
        gen = shard_process(recs, f"shard-{i}", counters=counters, clock=lambda: int(env.now), **kw)
        env.process(proc(gen))
    env.run()
    return counters, int(env.now)


# ---------------------------------------------------------------------------
# M1/M3: plain tuples
# ---------------------------------------------------------------------------


def tuple_records(n: int, start_ms: int) -> list[tuple[int, int, str, str, str, int]]:
    """``n`` plain tuples of atomic values: the cheapest record the collector can ignore."""
    return [(100 * i, start_ms, "INSERT", f"k{i}", "ok", 12) for i in range(n)]


# ---------------------------------------------------------------------------
# Issue 18: the floor, and a lean SimPy model written as a user would
# ---------------------------------------------------------------------------

# A flat record of the benchmark's table (items {"pk": str, "v": str}), as a
# user modelling that table keeps it: (seq, created ms, pk, v, SizeBytes, eventID).
F_SEQ, F_CREATED, F_KEY, F_VALUE, F_SIZE, F_ID = range(6)
FlatRecord = tuple[int, int, str, str, int, str]


def flat_records(
    items: Sequence[dict[str, str]], shard_count: int, setup: StreamSetup
) -> list[list[FlatRecord]]:
    """The benchmark's items as flat records per shard, routed, numbered and sized as esm_sim's."""
    shards: list[list[FlatRecord]] = [[] for _ in range(shard_count)]
    starts = setup.route_starts
    seq, step, now, event_id = setup.seq_base, setup.seq_step, setup.start_ms, setup.event_id
    crc32 = zlib.crc32
    for item in items:
        k, v = item["pk"], item["v"]
        seq += step
        # SizeBytes: the keys, then the new image (attribute names and values).
        size = 2 * (len("pk") + len(k)) + len("v") + len(v)
        rec = (seq, now, k, v, size, event_id(seq))
        shards[bisect_right(starts, crc32(b"S:" + k.encode())) - 1].append(rec)
    return shards


def render_flat(batch: Sequence[FlatRecord], region: str, arn: str) -> dict[str, Any]:
    """The AWS-shaped event of a batch of flat records: fresh dicts, one literal per record."""
    return {
        "Records": [
            {
                "eventID": eid,
                "eventName": "INSERT",
                "eventVersion": EVENT_VERSION,
                "eventSource": EVENT_SOURCE,
                "awsRegion": region,
                "dynamodb": {
                    "ApproximateCreationDateTime": float(created // 1000),
                    "Keys": {"pk": {"S": k}},
                    "NewImage": {"pk": {"S": k}, "v": {"S": v}},
                    "SequenceNumber": str(seq),
                    "SizeBytes": size,
                    "StreamViewType": VIEW_TYPE,
                },
                "eventSourceARN": arn,
            }
            for seq, created, k, v, size, eid in batch
        ]
    }


def floor_deliver(
    batches: Sequence[Sequence[FlatRecord]],
    region: str,
    arn: str,
    handler: Callable[[dict[str, Any], Any], Any],
) -> tuple[int, int]:
    """
    The floor: each delivery's event rendered and handed to ``handler``, nothing else.

    No scheduling, no bookkeeping, no judging: what any simulator delivering
    these batches as AWS-shaped events must at least spend. (invocations, records).
    """
    records = 0
    for batch in batches:
        handler(render_flat(batch, region, arn), None)
        records += len(batch)
    return len(batches), records


def lean_simpy(
    shards: Sequence[Sequence[FlatRecord]],
    *,
    start_ms: int,
    region: str,
    stream_arn: str,
    function_arn: str,
    handler: Callable[[dict[str, Any], Any], Any],
    duration_ms: Callable[[int], int],
    batch_size: int,
    max_retries: int,
    enable_ms: int,
) -> tuple[StreamCounters, int]:
    """
    The esm_backlog_bisect workload as a competent SimPy user models it: one
    process per shard over flat records, the event rendered for each
    invocation, the handler called, ``yield env.timeout(...)`` for its
    duration (``duration_ms`` of the batch size, tabled once) and the retry backoff, bisect on
    failure (first half ``ceil(n/2)`` first, retries inherited), a record that
    failed ``max_retries`` retries alone written to a DLQ list as its
    DynamoDB failure record. Returns (counters, end ms).
    """
    assert simpy is not None
    env = simpy.Environment(initial_time=start_ms)
    timeout = env.timeout
    counters = StreamCounters()
    dlq: list[dict[str, Any]] = []
    durations = [duration_ms(n) for n in range(batch_size + 1)]

    def reader(records: Sequence[FlatRecord], shard_id: str) -> Generator[Any, Any, None]:
        yield timeout(enable_ms)
        for pos in range(0, len(records), batch_size):
            todo = [(records[pos : pos + batch_size], 0)]
            while todo:
                batch, retries = todo.pop()
                invokes = 0
                while True:
                    counters.invocations += 1
                    invokes += 1
                    try:
                        handler(render_flat(batch, region, stream_arn), None)
                        ok = True
                    except Exception:
                        ok = False
                    n = len(batch)
                    yield timeout(durations[n])
                    if ok:
                        counters.processed += n
                        break
                    if n > 1:  # bisect: first half first, both keep the retry count
                        mid = (n + 1) // 2
                        todo.append((batch[mid:], retries))
                        batch = batch[:mid]
                        invokes = 0
                        continue
                    retries += 1
                    if retries > max_retries:
                        counters.discarded += 1
                        seq = str(batch[0][F_SEQ])
                        arrival = _iso(batch[0][F_CREATED], False)
                        dlq.append(
                            failure_record(
                                request_no=counters.invocations,
                                function_arn=function_arn,
                                invokes=invokes,
                                timestamp=_iso(int(env.now), True),
                                shard_id=shard_id,
                                first=(seq, arrival),
                                last=(seq, arrival),
                                size=1,
                                stream_arn=stream_arn,
                            )
                        )
                        break
                    yield timeout(min(1000 << (retries - 1), 60_000))  # backoff 1 s, 2 s...

    for i, records in enumerate(shards):
        env.process(reader(records, f"shard-{i}"))
    env.run()
    counters.dlq = [r["requestContext"]["requestId"] for r in dlq]
    return counters, int(env.now)
