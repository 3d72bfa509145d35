"""
Group the self-check's failures over many seeds by class.

``python -m tests.selfcheck.triage --seeds 2000 [--start 0] [--workers 2]``
runs every seed and prints, per failure class (the check and its first line
with ids, numbers and names blurred): how many seeds failed first with it,
how many had it at all, one example seed to replay with
``python -m tests.selfcheck --seed N``, and the scenario features every one
of its seeds shared that fewer than half of all seeds have (a hint at the
combination that breaks).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import sys
import time
from collections import Counter

import esm_sim
from tests.selfcheck.runner import Result, check, failure_class, run_seeds
from tests.selfcheck.scenario import generate

# Simulation's keyword defaults, read from its signature (public API).
_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(esm_sim.Simulation).parameters.items()
    if p.default is not inspect.Parameter.empty
}


def _hints(results: list[Result], seeds: list[int], base: Counter[str]) -> str:
    """
    The features over-represented among ``seeds``: in at least half of them and
    at least 1.5 times as common as among all seeds (a hint at what breaks).
    """
    by_seed = {r.seed: r.features for r in results}
    here: Counter[str] = Counter()
    for seed in seeds:
        here.update(by_seed[seed])
    lifts = []
    for feature, n in here.items():
        share, overall = n / len(seeds), base[feature] / len(results)
        if share >= 0.5 and share >= 1.5 * overall:
            lifts.append((share / overall, feature, share, overall))
    lifts.sort(key=lambda t: (-t[0], t[1]))
    return ", ".join(f"{f} {100 * s:.0f}% (all {100 * o:.0f}%)" for _, f, s, o in lifts[:5])


def ablate(seed: int, cls: str) -> list[str]:
    """
    The behaviour keywords whose default alone makes failure class ``cls`` go
    away for ``seed``: the scenario is run again with each non-default
    keyword set back to its default, one at a time.
    """
    spec = generate(seed)
    out = []
    for name, value in spec.sim_kwargs.items():
        default = _DEFAULTS.get(name, value)
        if default == value:
            continue
        other = dataclasses.replace(spec, sim_kwargs={**spec.sim_kwargs, name: default})
        _, failures = check(other)
        if cls not in {failure_class(f) for f in failures}:
            out.append(f"{name}={default!r}")
    return out


def _ablation(seeds: list[int], cls: str) -> str:
    cured: Counter[str] = Counter()
    for seed in seeds:
        cured.update(ablate(seed, cls))
    top = [f"{k} {n}/{len(seeds)}" for k, n in cured.most_common(3) if n * 2 >= len(seeds)]
    return ", ".join(top)


def triage(results: list[Result], *, ablate_seeds: int = 0) -> str:
    """The triage table of ``results``, as text."""
    base: Counter[str] = Counter()
    for r in results:
        base.update(r.features)
    first: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    example: dict[str, int] = {}
    seeds_of: dict[str, list[int]] = {}
    for r in results:
        classes = [failure_class(f) for f in r.failures]
        if classes:
            first[classes[0]] += 1
        for c in dict.fromkeys(classes):
            anywhere[c] += 1
            example.setdefault(c, r.seed)
            seeds_of.setdefault(c, []).append(r.seed)
    failed = sum(1 for r in results if r.failures)
    lines = [
        f"{failed} of {len(results)} seeds failed "
        f"({100 * failed / max(1, len(results)):.1f} %); {len(anywhere)} failure classes",
        "",
        f"{'first':>5} {'any':>5} {'seed':>6}  class",
    ]
    for c in sorted(anywhere, key=lambda c: (-first[c], -anywhere[c], c)):
        lines.append(f"{first[c]:>5} {anywhere[c]:>5} {example[c]:>6}  {c}")
        hint = _hints(results, seeds_of[c], base)
        if hint:
            lines.append(f"{'':>19}  mostly with: {hint}")
        cure = _ablation(seeds_of[c][:ablate_seeds], c) if ablate_seeds else ""
        if cure:
            lines.append(f"{'':>19}  gone with the default: {cure}")
    slow = sorted(results, key=lambda r: -r.seconds)[:5]
    lines += [
        "",
        "slowest seeds: " + ", ".join(f"{r.seed} ({r.seconds:.2f} s)" for r in slow),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.selfcheck.triage", description=__doc__)
    parser.add_argument("--seeds", type=int, default=2000, help="how many seeds (default 2000)")
    parser.add_argument("--start", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes"
    )
    parser.add_argument(
        "--determinism-every",
        type=int,
        default=10,
        help="run every Nth seed twice and compare traces (0: never; default 10)",
    )
    parser.add_argument(
        "--ablate",
        type=int,
        default=0,
        help="per class, rerun up to N of its seeds with each behaviour keyword at its "
        "default, and say which defaults make the class go away (slow; default 0: off)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seeds = list(range(args.start, args.start + args.seeds))
    results = list(run_seeds(seeds, workers=args.workers, determinism_every=args.determinism_every))
    print(triage(results, ablate_seeds=args.ablate))
    print(
        f"{len(seeds)} seeds in {time.perf_counter() - started:.1f} s on {args.workers} worker(s)"
    )
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
