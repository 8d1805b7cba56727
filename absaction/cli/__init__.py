"""The ``absaction`` command line: one entry point, one module per sub-command.

Each module in this package defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed ``argparse.Namespace`` and returning an exit status. Modules
import their heavy dependencies (torch, SB3, Minari) inside that callable so ``absaction --help``
answers instantly.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable, Sequence

from absaction import __version__
from absaction.errors import AbsactionError, cli_spelling

# Order is the order `absaction --help` lists them in: the pipeline, left to right.
COMMANDS: tuple[str, ...] = (
    "collect",
    "plot",
    "train",
    "traverse",
    "evaluate",
    "rl",
    "offline",
    "bench",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="absaction",
        description=(
            "Learn abstract actions from expert demonstrations and train RL agents in them: latent action\n"
            "chunks of an action VAE (the TCVLAE) or closed-loop skills with a learned prior.\n"
            "Pipeline: collect -> train (--model tcvlae | skill) -> traverse/evaluate -> rl (--actions\n"
            "latent | skill) / bench; `absaction demo` runs it all."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"absaction {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module_name = f"absaction.cli.{name}"
        if importlib.util.find_spec(module_name) is None:  # pragma: no cover - only while developing
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (also used by ``sys.exit`` in the script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(f"absaction {args.command}", lambda: args.func(args))


def run_command(name: str, command: Callable[[], int | None]) -> int:
    """Run one command the way every ``absaction`` command runs (the studies' entry points too): options
    named as flags in error messages, a user mistake one line ``NAME: error: problem; fix`` and exit
    status 2, Ctrl-C exit 130; otherwise the command's own status."""
    # Library warnings (Minari's metadata nags, SB3's env checks) are for developers, not CLI users.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"minari\..*")
    try:
        with cli_spelling():
            status = command()
    except AbsactionError as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
