"""The `chromaluma` command: one subcommand per module in `chromaluma.commands`.

Each command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`. Errors that
Chromaluma raises on purpose (:class:`ChromalumaError`) end the command with a one-line message and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from chromaluma import __version__
from chromaluma.errors import ChromalumaError

log = logging.getLogger("chromaluma")

COMMANDS = ("train", "export", "apply", "align", "info", "synth", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chromaluma",
        description="Train restoration models on a film's own references and apply them frame by frame.",
    )
    parser.add_argument("--version", action="version", version=f"chromaluma {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"chromaluma.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except ChromalumaError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted; finished frames and checkpoints are kept, nothing is half-written")
        return 130


if __name__ == "__main__":
    sys.exit(main())
