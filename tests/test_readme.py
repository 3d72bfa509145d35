"""The README's non-doctest examples run, and do what the README says."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@functools.cache
def _idempotence_failure() -> AssertionError:
    """What the README's five-line test raises on its handler (run once: it searches)."""
    blocks = [b for b in _python_blocks() if "make_handler" in b]
    assert 2 == len(blocks)
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    with pytest.raises(AssertionError, match="the handler is not idempotent") as caught:
        namespace["test_handler_is_idempotent"]()
    return caught.value


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
