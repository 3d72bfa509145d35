"""
The mixed-feature self-check: seeded scenarios that use every feature at once.

``ESM_SIM_SELFCHECK`` sets how many scenarios run (default 2000),
``ESM_SIM_SELFCHECK_SEED`` the first seed (default 0) and
``ESM_SIM_SELFCHECK_WORKERS`` the processes (default: up to 2). A failure
names each failing seed with its scenario; replay one with
``python -m tests.selfcheck --seed N``.
"""

from __future__ import annotations

import inspect
import os
from collections import Counter

import pytest

import esm_sim
from tests.selfcheck.runner import Result, failure_class, handler_clock, run_seeds
from tests.selfcheck.scenario import describe, features, generate

COUNT = int(os.environ.get("ESM_SIM_SELFCHECK", "2000"))
FIRST_SEED = int(os.environ.get("ESM_SIM_SELFCHECK_SEED", "0"))
WORKERS = int(os.environ.get("ESM_SIM_SELFCHECK_WORKERS", str(min(2, os.cpu_count() or 1))))
# Keyword arguments of Simulation that are not behaviour choices.
NOT_BEHAVIOUR = {"seed", "start", "region", "account_id"}
# Behaviour keywords the runner derives from the seed instead of drawing them
# (runner.handler_clock: drawing them would rename every seed's scenario).
FROM_SEED = {"handler_clock"}


def _message(results: list[Result], failed: list[Result]) -> str:
    classes: Counter[str] = Counter(failure_class(r.failures[0]) for r in failed)
    example = {}
    for r in failed:
        example.setdefault(failure_class(r.failures[0]), r.seed)
    lines = [
        f"{len(failed)} of {len(results)} mixed scenarios broke a promise "
        f"(seeds {FIRST_SEED}..{FIRST_SEED + COUNT - 1}); by first failure:",
        *(f"  {n:>4}  seed {example[c]:>6}  {c}" for c, n in classes.most_common()),
        "failing seeds: "
        + " ".join(str(r.seed) for r in failed[:60])
        + (" ..." if len(failed) > 60 else ""),
        "group them: python -m tests.selfcheck.triage --seeds N --start S",
        "",
    ]
    lines += [r.report for r in failed[:3]]
    return "\n".join(lines)


class TestGenerator:
    def test_a_seed_names_one_scenario(self) -> None:
        """Generating a seed twice gives the same scenario, described the same way."""
        assert describe(generate(12345), writes=True) == describe(generate(12345), writes=True)

    def test_every_behaviour_keyword_is_drawn(self) -> None:
        """Every behaviour keyword of Simulation is drawn, so a new one cannot be left out."""
        keywords = set(inspect.signature(esm_sim.Simulation).parameters) - NOT_BEHAVIOUR
        assert keywords == set(generate(0).sim_kwargs) | FROM_SEED
        assert {handler_clock(generate(seed)) for seed in range(8)} == {"wall", "virtual"}

    def test_the_features_all_appear_in_a_few_hundred_seeds(self) -> None:
        """Over 300 seeds every feature tag appears, and each is left out of some scenarios."""
        seen: Counter[str] = Counter()
        for seed in range(300):
            seen.update(features(generate(seed)))
        expected = {
            "rollover", "retention<1h", "close=record", "close=clock", "align=epoch",
            "align=first-record", "read-throttle", "multi-get", "non-object=failure",
            "callbacks", "sort-key", "poison", "2-tables", "profile=clean", "profile=flaky",
            "profile=chaotic", "sys.exit", "final-fails", "tumbling", "PF>1", "RBIF", "bisect", "filters",
            "retries=-1", "batch-window", "LATEST", "dest=sqs", "dest=sns", "dest=s3",
            "dest=fifo", "late-create", "created-disabled", "split", "delete", "throttle",
            "inject_errors", "inject_duplicates", "disable/enable", "update",
        }  # fmt: skip
        assert set() == expected - set(seen)
        assert all(n < 300 for n in seen.values())


class TestSelfCheck:
    def test_mixed_scenarios_keep_every_promise(self) -> None:
        """
        Every mixed scenario passes check_all and the independent fate count
        (and, when it dropped history, matches the run keeping it),
        finishes (past the retention only when a poison record may block it),
        never raises, and (every 10th seed) runs the same twice.
        """
        seeds = range(FIRST_SEED, FIRST_SEED + COUNT)
        results = list(run_seeds(seeds, workers=WORKERS))
        failed = [r for r in results if r.failures]
        if failed:
            pytest.fail(_message(results, failed), pytrace=False)
