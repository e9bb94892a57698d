"""Where a chroma model's error on the quality benchmark comes from: colour or density, training or held-out
frames, the frame's outer columns or its inside.

For each shot and each part of it (the training frames the model was fitted on, the held-out frames it never saw),
the model's output is scored against the clean truth three ways (mean ΔE2000 over the reference's valid pixels):

- **all**: the output itself, as the quality table scores it;
- **colour**: the output's colour (Cb, Cr) on the truth's luma — what is left when the lightness is right;
- **density**: the truth's colour on the output's luma — what is left when the colour is right;

and the colour error split into the outer `edge_px` columns of the reference's picture on the left and right (its
overscan border, where the reference has no picture, is left out as everywhere) and the columns between them, and
split by scale: the colour difference blurred over `CAST_SIGMA_PX` (Gaussian σ) is the low-frequency cast, what the
blur removes is the error in fine detail; each is scored on its own. Equal training and held-out errors say the
model is not overfitting; colour errors much larger in the outer columns than inside say the frame's edges are the
problem; a cast error close to the colour error says the model misreads the local cast, not the detail.

With `--compare`, the same table follows for the DVD reference itself and for the best colour baseline of the
quality table (a per-shot 3D LUT fitted on the same training pairs): a fine-detail error that every method shares,
the reference included, belongs to the material (the scan's grain and blur in colour, the reference's 4:2:0 chroma),
and no model learning from that reference can be expected to remove it.

    python -m chromaluma.benchmarks.quality_diagnosis MODEL.onnx [--quick] [--compare]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chromaluma.baselines import REC709, with_luma
from chromaluma.benchmarks import markdown_table
from chromaluma.metrics import delta_e2000

if TYPE_CHECKING:
    from chromaluma.benchmarks.quality_plan import ShotPairs

EDGE_PX = 64  # width of the outer columns scored apart, in scan pixels
CAST_SIGMA_PX = 8.0  # Gaussian σ, in scan pixels, over which the colour difference is blurred to keep its cast
ShotRestore = Callable[[int, int], np.ndarray]  # (shot number, frame index) → restored RGB(A) frame


@dataclass(frozen=True)
class DiagnosisRow:
    """One shot's part (training or held-out frames): mean ΔE2000 of the output, its colour and its density."""

    shot: str
    part: str
    all: float
    colour: float
    density: float
    colour_outer: float
    colour_inner: float
    colour_cast: float
    colour_detail: float

    def cells(self) -> list[str]:
        return [self.shot, self.part] + [f"{v:.2f}" for v in (self.all, self.colour, self.density,
                                                               self.colour_outer, self.colour_inner,
                                                               self.colour_cast, self.colour_detail)]


def _frame_errors(output: np.ndarray, truth: np.ndarray, mask: np.ndarray, edge_px: int) -> list[float]:
    valid = mask > 0.5
    truth_y, output_y = truth[..., :3] @ REC709, output[..., :3] @ REC709
    colour = with_luma(output[..., :3], truth_y)
    columns = np.flatnonzero(valid.any(axis=0))  # the reference's picture, inside its overscan border
    outer = np.zeros(valid.shape, dtype=bool)
    if columns.size:
        outer[:, columns[0]:columns[0] + edge_px] = outer[:, max(0, columns[-1] + 1 - edge_px):columns[-1] + 1] = True
    cast, detail = _colour_by_scale(colour, truth[..., :3], truth_y)
    return [delta_e2000(output, truth, valid).mean, delta_e2000(colour, truth, valid).mean,
            delta_e2000(with_luma(truth[..., :3], output_y), truth, valid).mean,
            delta_e2000(colour, truth, valid & outer).mean, delta_e2000(colour, truth, valid & ~outer).mean,
            delta_e2000(cast, truth, valid).mean, delta_e2000(detail, truth, valid).mean]


def _colour_by_scale(colour: np.ndarray, truth: np.ndarray, truth_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The truth plus `colour`'s difference from it blurred over CAST_SIGMA_PX (its cast), and the truth plus the
    rest of that difference (its fine detail), both on the truth's luma."""
    import cv2

    difference = (colour - truth).astype(np.float32)
    cast = cv2.GaussianBlur(difference, (0, 0), CAST_SIGMA_PX)
    return with_luma(truth + cast, truth_y), with_luma(truth + difference - cast, truth_y)


def diagnose(shots: Sequence[ShotPairs], restore: ShotRestore, edge_px: int = EDGE_PX) -> list[DiagnosisRow]:
    """Each shot's training and held-out rows, then the same over all shots (frame errors averaged)."""
    rows: list[DiagnosisRow] = []
    totals: dict[str, list[list[float]]] = {"training": [], "held-out": []}
    for number, shot in enumerate(shots):
        for part, frames in (("training", shot.train), ("held-out", shot.test)):
            errors = [_frame_errors(restore(number, index), shot.truth[index], shot.mask, edge_px)
                      for index in range(len(shot.truth))[frames]]
            totals[part] += errors
            rows.append(DiagnosisRow(shot.name, part, *np.mean(errors, axis=0).tolist()))
    rows += [DiagnosisRow("all shots", part, *np.mean(errors, axis=0).tolist()) for part, errors in totals.items()]
    return rows


def markdown(rows: Sequence[DiagnosisRow], edge_px: int = EDGE_PX) -> str:
    header = ["shot", "frames", "ΔE2000 all", "colour (on truth luma)", "density (truth colour)",
              f"colour, outer {edge_px} px columns", "colour, inside", f"colour blurred over {CAST_SIGMA_PX:g} px",
              "colour, fine detail (the rest)"]
    return markdown_table(header, [row.cells() for row in rows]) + "\n"


def compared_restorations(shots: Sequence[ShotPairs]) -> dict[str, ShotRestore]:
    """What `--compare` diagnoses besides the model: the DVD reference itself and a per-shot 3D LUT fitted on each
    shot's training pairs (the quality table's best colour baseline)."""
    from chromaluma.baselines import ColourLUT
    from chromaluma.benchmarks.quality import fit_baselines

    lut = next(method for method in fit_baselines("chroma", shots) if method.name == ColourLUT.name)
    return {"the DVD reference itself": lambda number, index: shots[number].references[index][..., :3],
            f"{lut.name}, fitted per shot": lambda number, index: lut.restore(shots[number].scans[index], number)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an exported chroma model (.onnx)")
    parser.add_argument("--quick", action="store_true", help="the quick benchmark plan (tiny shots, seconds)")
    parser.add_argument("--compare", action="store_true",
                        help="also diagnose the DVD reference itself and a per-shot 3D LUT on the same frames")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from chromaluma.benchmarks.quality import CHROMA_DEGRADATION, QualityPlan, build_shots, grade_shots
    from chromaluma.benchmarks.quality_training import TrainedModel

    model = TrainedModel(Path(args.model), "")
    plan = QualityPlan.quick() if args.quick else QualityPlan.full()
    shots = grade_shots(build_shots(plan, CHROMA_DEGRADATION, "dvd"))
    edge_px = min(EDGE_PX, plan.width // 4)
    restorations: dict[str, ShotRestore] = {
        Path(args.model).name: lambda number, index: model.restore(shots[number].scans[index])}
    if args.compare:
        restorations.update(compared_restorations(shots))
    for number, (name, restore) in enumerate(restorations.items()):
        if args.compare:
            sys.stdout.write(("\n" if number else "") + f"### {name}\n\n")
        sys.stdout.write(markdown(diagnose(shots, restore, edge_px), edge_px))
    return 0


if __name__ == "__main__":
    sys.exit(main())
