"""Multi-print composites: two or more damaged prints of one shot merged into the best of each, region by region.

- `prints`: opening the prints and pairing their frames in time (a constant offset, found or given);
- `register`: each print's frame registered onto the first print's (similarity, SIFT/phase correlation + ECC);
- `quality`: density match, damage mattes, cell scores (damage, sharpness, density) and feathered weights;
- `merge`: one composite frame and its source map;
- `output`, `render`: folders that appear whole, the report, and the command's order of work.
"""

from chromaluma.composite.merge import MergeOptions
from chromaluma.composite.render import CompositeRequest, run_composite

__all__ = ["CompositeRequest", "MergeOptions", "run_composite"]
