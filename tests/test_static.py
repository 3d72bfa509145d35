"""The code base stays clean: ruff and mypy --strict pass, and the package imports light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_is_clean() -> None:
    """`ruff check` finds nothing in esm_sim/, tests/ and benchmarks/."""
    paths = [p for p in ("esm_sim", "tests", "benchmarks") if (ROOT / p).is_dir()]
    result = _run("ruff", "check", *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    """`mypy --strict esm_sim` reports no error."""
    result = _run("mypy", "--strict", "esm_sim")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_is_light() -> None:
    """`import esm_sim` loads none of hypothesis, matplotlib, pandas, tqdm, boto3, botocore, moto, time_machine."""
    code = (
        "import sys, esm_sim; "
        "heavy = [m for m in ('hypothesis', 'matplotlib', 'pandas', 'tqdm', 'boto3', "
        "'botocore', 'moto', 'time_machine') "
        "if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "" == result.stdout.strip()


def test_no_wall_clock_or_ambient_randomness() -> None:
    """Nothing in esm_sim/ reads the wall clock, the random module or uuid4."""
    banned = (
        "time.time(",
        "time.monotonic(",
        "datetime.now(",
        "datetime.utcnow(",
        "uuid.uuid4(",
        "import random",
        "from random import",
        "perf_counter(",
    )
    offenders = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in sorted((ROOT / "esm_sim").rglob("*.py"))
        for needle in banned
        if needle in path.read_text()
    ]
    assert [] == offenders


def test_demo_runs() -> None:
    """`python -m esm_sim demo` runs and ends with its summary."""
    result = _run("esm_sim", "demo")
    assert 0 == result.returncode, result.stderr
    assert "DLQ messages       1" in result.stdout
