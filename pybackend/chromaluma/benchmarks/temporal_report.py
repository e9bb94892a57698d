"""Tables, goals and notes of the temporal benchmark (see :mod:`chromaluma.benchmarks.temporal`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chromaluma.benchmarks import BenchSection, markdown_table
from chromaluma.benchmarks.render_timing import WARM_UP_FRAMES
from chromaluma.benchmarks.temporal_plan import LOCKED_OFF, PANNING

if TYPE_CHECKING:
    from chromaluma.benchmarks.temporal_plan import TemporalPlan

GOAL_FLICKER = 0.3
GOAL_DRIFT = 1.0
GOAL_PSNR_GAIN = 4.0
GOAL_GRAIN = 0.2  # grain power within ±20 % of the reference print's
NOT_MEASURED = "—"


@dataclass(frozen=True)
class ShotScore:
    """One output of one shot: chroma flicker and drift over all its frames, flow-compensated temporal error
    (None where not measured), held-out ΔE2000 mean."""

    flicker: float
    drift: float
    temporal: float | None
    delta_e: float


@dataclass
class TemporalRow:
    """One method's scores per shot (empty when it was not measured) and its note (training steps and time)."""

    method: str
    shots: dict[str, ShotScore] = field(default_factory=dict)
    note: str = ""


@dataclass
class LumaRow:
    """One detail restoration on the held-out frames: PSNR, its gain over the input, SSIM, grain power ratio."""

    method: str
    psnr: float | None = None
    gain: float | None = None
    ssim: float | None = None
    grain: float | None = None
    note: str = ""


@dataclass
class CostRow:
    """What a temporal radius costs: process() and plug-in ms/frame at 2K, training steps/s."""

    radius: int
    process_ms: float | None
    plugin_ms: float | None
    steps_per_second: float | None
    note: str = ""


def _note(text: str) -> str:
    return text.replace("|", "/")  # a note is one markdown table cell


def _value(value: float | None) -> object:
    return NOT_MEASURED if value is None or (isinstance(value, float) and math.isnan(value)) else value


CHROMA_HEADER = ["method", "locked-off flicker", "locked-off drift", "locked-off ΔE2000", "panning flicker",
                 "panning drift", "panning temporal error", "panning ΔE2000", "note"]
KEYFRAME_HEADER = ["method", "locked-off drift", "locked-off flicker", "locked-off ΔE2000", "panning drift",
                   "panning flicker", "panning ΔE2000", "note"]
LUMA_HEADER = ["method", "PSNR dB", "PSNR gain over input dB", "SSIM", "grain power ÷ reference print's", "note"]
COST_HEADER = ["temporal radius", "frames in window", "process() ms/frame", "plug-in ms/frame",
               "training steps/s", "note"]


def _chroma_cells(row: TemporalRow) -> list[object]:
    locked, panning = row.shots.get(LOCKED_OFF), row.shots.get(PANNING)
    cells: list[object] = [row.method]
    cells += [NOT_MEASURED] * 3 if locked is None else [locked.flicker, locked.drift, locked.delta_e]
    cells += [NOT_MEASURED] * 4 if panning is None else [panning.flicker, panning.drift, _value(panning.temporal),
                                                         panning.delta_e]
    return [*cells, _note(row.note) or ("" if row.shots else "not measured")]


def _keyframe_cells(row: TemporalRow) -> list[object]:
    cells: list[object] = [row.method]
    for shot in (LOCKED_OFF, PANNING):
        score = row.shots.get(shot)
        cells += [NOT_MEASURED] * 3 if score is None else [score.drift, score.flicker, score.delta_e]
    return [*cells, _note(row.note) or ("" if row.shots else "not measured")]


def goal_verdicts(rows: Sequence[TemporalRow], single_frame: str) -> list[str]:
    """Per Chromaluma row with a window, on each shot: flicker ≤ 0.3, drift ≤ 1.0, held-out ΔE2000 no worse than
    the single-frame model's."""
    reference = next((r for r in rows if r.method == single_frame and r.shots), None)
    verdicts = []
    for row in rows:
        if not row.method.startswith("Chromaluma") or row.method == single_frame or not row.shots:
            continue
        parts = []
        for shot, score in row.shots.items():
            base = reference.shots.get(shot) if reference else None
            delta_e = "ΔE not assessed" if base is None else (
                f"ΔE {score.delta_e:.2f} vs {base.delta_e:.2f} " + ("met" if score.delta_e <= base.delta_e
                                                                     else "not met"))
            parts.append(f"{shot}: flicker {score.flicker:.2f} {'met' if score.flicker <= GOAL_FLICKER else 'not met'}"
                         f", drift {score.drift:.2f} {'met' if score.drift <= GOAL_DRIFT else 'not met'}, {delta_e}")
        verdicts.append(f"{row.method} — " + "; ".join(parts) + ".")
    return verdicts


def chroma_section(rows: Sequence[TemporalRow], plan: TemporalPlan, single_frame: str) -> BenchSection:
    """The colour-stability table: every method on the locked-off and the panning shot."""
    notes = [f"Goals: chroma flicker ≤ {GOAL_FLICKER} and chroma drift ≤ {GOAL_DRIFT} (CIELAB a*b* units) on both "
             "shots, held-out ΔE2000 no worse than the single-frame model's.",
             *goal_verdicts(rows, single_frame), plan.shots_note(),
             "Flicker: mean frame-to-frame distance of a frame's mean (a*, b*); drift: the largest distance of a "
             "frame's mean (a*, b*) from the shot's mean; both of the output's mean minus the truth's (the colour "
             "the method adds: on the locked-off shot the truth is constant, on the pan the scene's own colour "
             "moves), over all frames of the shot inside the DVD's valid area. Temporal error (panning shot): "
             "output t+1 warped onto t along the truth's optical flow "
             "(Farneback on truth luma), mean a*b* distance over pixels that pass a forward-backward consistency "
             "check; the ground truth row is its floor. ΔE2000: mean over the held-out frames against the truth.",
             "Every Chromaluma model is trained on the training frames of both shots (one model per row, the same "
             "budget, the same seed); `train --temporal-radius N` reads windows t−N … t+N of the graded scan, "
             "`--exposure-jitter 0.1` varies each training window's exposure. Inference: `chromaluma.api.process` "
             "with each frame's neighbours (the shot's ends repeat the nearest frame)."]
    raw = {"rows": [{"method": r.method, "note": r.note, "shots": {k: vars(v) for k, v in r.shots.items()}}
                    for r in rows], "goals": {"flicker": GOAL_FLICKER, "drift": GOAL_DRIFT}}
    return BenchSection("Temporal: colour stability (chroma)",
                        markdown_table(CHROMA_HEADER, [_chroma_cells(r) for r in rows]), notes, [], raw)


def keyframe_section(rows: Sequence[TemporalRow], plan: TemporalPlan) -> BenchSection:
    """Few keyframes: models trained on a handful of pairs per shot, drift along the whole shot."""
    notes = [f"Few keyframes: each model trained on {plan.keyframes} pairs per shot (frames "
             f"{', '.join(str(i) for i in plan.keyframe_indices())} of {plan.frames}, {plan.width}×{plan.height}; "
             "the windows' other frames come from the scan) for "
             f"{plan.keyframe_minutes:g} min; drift and flicker (of the mean a*b* minus the truth's) over all frames, "
             f"ΔE2000 on the held-out frames. Goal: drift ≤ {GOAL_DRIFT}. The scan is the colour table's, density "
             f"graded by a curve fitted on each shot's {plan.frames - plan.held_out} training pairs, not on the "
             "keyframes alone."]
    raw = {"rows": [{"method": r.method, "note": r.note, "shots": {k: vars(v) for k, v in r.shots.items()}}
                    for r in rows]}
    return BenchSection("Temporal: few keyframes", markdown_table(KEYFRAME_HEADER, [_keyframe_cells(r) for r in rows]),
                        notes, [], raw)


def luma_section(rows: Sequence[LumaRow], plan: TemporalPlan) -> BenchSection:
    """Detail restoration with and without a window: PSNR gain, SSIM, grain against the reference print."""
    cells = [[r.method, _value(r.psnr), _value(r.gain), _value(r.ssim), _value(r.grain), _note(r.note)] for r in rows]
    luma = plan.luma
    notes = [f"Goals: PSNR gain over the input ≥ +{GOAL_PSNR_GAIN:g} dB; grain power within ±{GOAL_GRAIN:.0%} of the "
             "reference print's (ratio 0.8–1.2).",
             f"The quality area's luma shots ({', '.join(f'{p} ({m})' for p, m in luma.shots)}; {luma.frames} frames "
             f"at {luma.width}×{luma.height}, last {luma.held_out} held out): two print generations on 35mm and "
             "damage 0.5; reference: a better 16mm print one generation down. Scores on the held-out frames.",
             "Grain power: radially averaged power spectrum of (luma − its 2 px Gaussian blur) over 0.25–0.5 "
             "cycles/pixel, the output's over the reference print's.",
             "Yardsticks (informative; each fitted per shot on the held-out frames, with knowledge no method has; "
             "`chromaluma.benchmarks.detail_bound`): the ceiling gives the scan the truth's luma (a luma model adds "
             "one residual to R, G and B, so the scan's colour error stays); the linear filters are the best "
             "15×15-tap filter on the scan's luma (or on 5 frames moved onto it by DIS flow) plus an offset, fitted by "
             "least squares on the truth, or on the reference print the models learn from."]
    return BenchSection("Temporal: detail (luma)", markdown_table(LUMA_HEADER, cells), notes, [],
                        {"rows": [vars(r) for r in rows]})


def cost_section(rows: Sequence[CostRow], plan: TemporalPlan) -> BenchSection:
    """What each temporal radius costs at inference and in training."""
    cells = [[r.radius, 2 * r.radius + 1, _value(r.process_ms), _value(r.plugin_ms), _value(r.steps_per_second),
              _note(r.note)] for r in rows]
    width, height = plan.cost_size
    notes = [f"Chroma models of the shipped architecture (untrained: speed does not depend on what was learnt), one "
             f"{width}×{height} RGBA frame and its 2R neighbours, median of {plan.cost_frames} frames after "
             f"{WARM_UP_FRAMES} warm-up frames, the process's own allocator (as a plug-in host's); plug-in: "
             f"`ofx-render` with the OpenFX bundle, rendering a {plan.cost_frames + WARM_UP_FRAMES}-frame clip, "
             f"the same frames timed "
             "(its ms include the "
             "host fetching each neighbour frame, read from its file; the note says how many neighbours the "
             "plug-in handed to process(): fewer at the clip's ends). Training steps/s: steps done ÷ training wall "
             "time of the colour table's models (same crop, batch and pairs)."]
    return BenchSection("Temporal: cost", markdown_table(COST_HEADER, cells), notes, [],
                        {"rows": [vars(r) for r in rows]})
