"""`make bench`: run every benchmark area and write BENCHMARKS.md (same code as `chromaluma bench`).

    scripts/bench.py --out BENCHMARKS.md [--only quality,inference] [--quick]

With --only on an existing report, only those areas' parts are replaced; the others are kept as they were, each
naming the date and command that produced it.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from chromaluma.commands import bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_arguments(parser)
    args = parser.parse_args()
    args.command_line = shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return bench.run(args)
    except bench.ParameterError as exc:
        logging.getLogger("chromaluma.bench").error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
