"""`chromaluma composite`: placeholder until its module lands (being written now)."""

from __future__ import annotations

import argparse

from chromaluma.errors import ParameterError

HELP = "composite (not yet available)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    raise ParameterError("chromaluma composite: not available in this build")
