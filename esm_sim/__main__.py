"""
``python -m esm_sim``: the command line.

``demo`` runs the built-in scenario; ``run scenario.yaml`` runs a scenario file
and ``validate template.yaml`` checks a template's settings (see ``esm_sim._cli``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m esm_sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a poison record in a stream: timeline and summary")
    demo.add_argument("--seed", type=int, default=0, help="the simulation seed (default 0)")
    demo.add_argument(
        "--png", metavar="PATH", help="also write the timeline plot there (needs matplotlib)"
    )
    from esm_sim._cli import add_commands, dispatch

    add_commands(commands)
    args = parser.parse_args(argv)
    status = dispatch(args)
    if status is not None:
        return status
    if args.command == "demo":
        from esm_sim._demo import build_demo, demo_text

        sim = build_demo(args.seed)
        print(demo_text(sim))
        if args.png:
            from esm_sim.viz import plot_timeline

            plot_timeline(sim).savefig(args.png)
            print(f"timeline plot written to {args.png}")
        return 0
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse exits first
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
