"""`make demo`: the main job on the bundled default, ending in demo/before_after.png.

This grows as capabilities land (see README.md, status). Today it runs what exists and says what does not.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("chromaluma.demo")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    log.error("the demo model and shot are not built yet (issue 7); nothing to show")
    return 1


if __name__ == "__main__":
    sys.exit(main())
