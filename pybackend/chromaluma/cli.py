"""The `chromaluma` command: one subcommand per module in `chromaluma.commands`.

Each command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`. Errors that
Chromaluma raises on purpose (:class:`ChromalumaError`) end the command with a one-line message and exit 2;
anything else is a bug and keeps its traceback.

SIGTERM (what a render farm or `kill` sends) takes the same path as Ctrl-C: it raises KeyboardInterrupt in
the main thread, so every command cleans up as it does for Ctrl-C, and the command exits 128 + the signal's
number (130 for SIGINT, 143 for SIGTERM). A command that raises KeyboardInterrupt with a message (what it
kept, how to continue) has that message printed as the one line; otherwise the line says it was interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from chromaluma import __version__
from chromaluma.errors import ChromalumaError

log = logging.getLogger("chromaluma")

COMMANDS = ("train", "export", "apply", "align", "info", "synth", "bench", "chain", "composite", "farm")


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
    received = [signal.SIGINT]
    try:
        with _terminate_as_interrupt(received):
            return int(args.run(args) or 0)
    except ChromalumaError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt as exc:
        name = signal.Signals(received[-1]).name
        log.error("%s (%s)", exc.args[0] if exc.args else f"{args.command}: interrupted", name)
        return 128 + received[-1]


@contextmanager
def _terminate_as_interrupt(received: list[int]) -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt like Ctrl-C; `received` ends with the last signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
