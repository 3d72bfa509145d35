"""The README's non-doctest examples run, and do what the README says."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


# The README's test runs as a user's would: in a fresh interpreter with the
# suite's Hypothesis settings, importing esm_sim from a site-packages folder.
# Hypothesis also draws literals from the local (not installed) modules
# already imported, so run from this checkout what it tries would change with
# any literal in esm_sim's source or with the modules loaded first.
_RUN_README_TEST = """
import json, re, sys
from hypothesis import HealthCheck, settings
settings.register_profile("readme", deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("readme")
namespace = {}
for block in json.loads(sys.argv[1]):
    exec(compile(block, "README.md", "exec"), namespace)
try:
    namespace["test_handler_is_idempotent"]()
except AssertionError as failure:
    print(json.dumps({"message": str(failure), "notes": getattr(failure, "__notes__", [])}))
else:
    print(json.dumps(None))
import esm_sim
assert "/site-packages/esm_sim/" in esm_sim.__file__, esm_sim.__file__
"""


@functools.cache
def _idempotence_failure() -> AssertionError:
    """What the README's five-line test raises on its handler (run once: it searches)."""
    blocks = [b for b in _python_blocks() if "make_handler" in b]
    assert 2 == len(blocks)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site-packages"
        shutil.copytree(
            README.parent / "esm_sim",
            site / "esm_sim",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        done = subprocess.run(
            [sys.executable, "-c", _RUN_README_TEST, json.dumps(blocks)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(site)},
            timeout=600,
        )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome is not None, "the README's test passed on its non-idempotent handler"
    assert "the handler is not idempotent" in outcome["message"]
    failure = AssertionError(outcome["message"])
    failure.__notes__ = list(outcome["notes"])
    return failure


class TestPropertyTestingExample:
    def test_the_five_line_test_catches_the_non_idempotent_handler(self) -> None:
        """The README's @given(scenarios()) test fails on its handler with 'not idempotent'."""
        failure = _idempotence_failure()
        notes = "\n".join(getattr(failure, "__notes__", []))
        assert "Failing test case: test_handler_is_idempotent(" in notes
        assert "records delivered more than once" in str(failure)

    def test_the_printed_falsifying_example_is_the_documented_one(self) -> None:
        """The README's 'E ...' lines are, line for line, what the failing test prints."""
        documented = re.search(
            r"```\n(E       AssertionError.*?)```", README.read_text(), re.DOTALL
        )
        assert documented is not None
        expected = [line[len("E       ") :] for line in documented.group(1).splitlines()]
        failure = _idempotence_failure()
        printed = [f"AssertionError: {failure}", *getattr(failure, "__notes__", [])]
        lines = "\n".join(printed).splitlines()
        assert expected == [line.rstrip() for line in lines[: len(expected)]]
