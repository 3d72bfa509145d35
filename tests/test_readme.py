"""The README's non-doctest examples run, and do what the README says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


class TestPropertyTestingExample:
    def test_the_five_line_test_catches_the_non_idempotent_handler(self) -> None:
        """The README's @given(scenarios()) test fails on its handler with 'not idempotent'."""
        blocks = [b for b in _python_blocks() if "make_handler" in b]
        assert 2 == len(blocks)
        namespace: dict[str, Any] = {}
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
        with pytest.raises(AssertionError, match="the handler is not idempotent") as caught:
            namespace["test_handler_is_idempotent"]()
        notes = "\n".join(getattr(caught.value, "__notes__", []))
        assert "Failing test case: test_handler_is_idempotent(" in notes
        assert "records delivered more than once" in str(caught.value)
