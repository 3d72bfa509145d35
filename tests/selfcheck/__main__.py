"""
Replay one self-check seed: ``python -m tests.selfcheck --seed N``.

Prints the scenario, what broke (or that it passed) and, with ``--timeline``
(the default when it failed), ``sim.timeline()``.
"""

from __future__ import annotations

import argparse
import sys

from tests.selfcheck.runner import check, report
from tests.selfcheck.scenario import describe, generate


def replay(seed: int, *, timeline: bool | None = None, writes: bool = True) -> bool:
    """Run one seed with every check and print the outcome; True when it passed."""
    spec = generate(seed)
    world, failures = check(spec, determinism=True)
    if failures:
        print(report(spec, failures, writes=writes))
    else:
        print(describe(spec, writes=writes))
        print(f"seed {seed}: passed")
    for line in world.refused:
        print(f"refused (as AWS would): {line}")
    if timeline if timeline is not None else bool(failures):
        print(world.sim.timeline())
    return not failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.selfcheck", description=__doc__)
    parser.add_argument("--seed", type=int, required=True, help="the scenario's seed")
    parser.add_argument(
        "--timeline",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print sim.timeline() (default: only when the seed fails)",
    )
    args = parser.parse_args(argv)
    return 0 if replay(args.seed, timeline=args.timeline) else 1


if __name__ == "__main__":
    sys.exit(main())
