"""`python -m chromaluma …` runs the `chromaluma` command, e.g. under `torchrun … -m chromaluma train …`."""

import sys

from chromaluma.cli import main

sys.exit(main())
