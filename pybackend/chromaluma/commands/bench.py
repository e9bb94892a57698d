"""`chromaluma bench` (not implemented yet)."""

from __future__ import annotations

import argparse

from chromaluma.errors import ChromalumaError

HELP = "bench: not implemented yet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    raise ChromalumaError("chromaluma bench is not implemented yet; see README.md (status).")
