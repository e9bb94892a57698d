"""Aligning a reference (DVD, telecine, another print) to a scan: the engine behind `chromaluma align`.

- `footage`: one reading pass over each side, keeping small structure images (scan) and luma (reference);
- `structure`: colour-blind picture structure, fields, inverse telecine weave, scan grids;
- `cuts`: shot cuts that camera motion, flicker and grain do not fake;
- `temporal`: mutual-best field matching (constant offset, 24→25, 2:3 and 2:2…:3 pulldown,
  missing frames on either side);
- `spatial`: SIFT + RANSAC, ECC refinement, model constraints, warping and validity masks;
- `pipeline`: the order of it all (:func:`plan_alignment`);
- `pairs_folder`, `report`: the output of docs/CONTRACT.md §5 and the evidence for a human.
"""

from chromaluma.align.pairs_folder import write_pairs_folder
from chromaluma.align.pipeline import Alignment, AlignOptions, NoMatchError, PlannedPair, plan_alignment

__all__ = ["AlignOptions", "Alignment", "NoMatchError", "PlannedPair", "plan_alignment", "write_pairs_folder"]
