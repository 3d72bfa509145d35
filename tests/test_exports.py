"""The public API is exactly what esm_sim/__init__.py curates."""

from __future__ import annotations

import json
import subprocess
import sys

import esm_sim


class TestExports:
    def test_all_is_exactly_the_public_names(self) -> None:
        """A fresh `import esm_sim` exposes exactly __all__ as its non-underscore names."""
        code = (
            "import json, esm_sim; "
            "print(json.dumps(sorted(n for n in vars(esm_sim) if not n.startswith('_'))))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert sorted(esm_sim.__all__) == json.loads(out.stdout)

    def test_public_objects_say_they_come_from_esm_sim(self) -> None:
        """Every exported class and function reports __module__ 'esm_sim', not a private module."""
        wrong = [
            name
            for name in esm_sim.__all__
            if name != "errors" and getattr(esm_sim, name).__module__ != "esm_sim"
        ]
        assert [] == wrong

    def test_dir_lists_the_public_api(self) -> None:
        """dir(esm_sim) shows __all__ and __version__, nothing private."""
        assert sorted([*esm_sim.__all__, "__version__"]) == sorted(dir(esm_sim))

    def test_optional_modules_are_imported_explicitly(self) -> None:
        """strategies, invariants, testing, viz, boto3 and botocore are not imported by `import esm_sim`."""
        code = (
            "import sys, esm_sim; "
            "print([m for m in ('esm_sim.strategies', 'esm_sim.invariants', 'esm_sim.testing', "
            "'esm_sim.viz', 'esm_sim.templates', 'boto3', 'botocore') if m in sys.modules])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "[]" == out.stdout.strip()
