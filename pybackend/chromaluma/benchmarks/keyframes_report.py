"""Tables, goals and notes of the keyframe benchmark (see :mod:`chromaluma.benchmarks.keyframes`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chromaluma.benchmarks import BenchSection, markdown_table
from chromaluma.benchmarks.keyframes_plan import (
    BASELINE_ROWS,
    LOCKED_OFF,
    PER_FRAME_ROW,
    KeyframePlan,
    MethodScore,
    keyframe_row,
)
from chromaluma.benchmarks.render_timing import TIMING_NOTE

GOAL_RATIO = 1.5  # ΔE2000 half-way to the next keyframe (12 of 24 frames) at most this × the keyframe frame's
GOAL_SHIFT = 1.0  # CIELAB a*b* units
NOTICEABLE = 1.0  # ΔE2000 of a just-noticeable difference: the ratio goal's floor for a keyframe rendered exactly
GOAL_RENDER_MS = 1000.0
NOT_MEASURED = "—"


@dataclass(frozen=True)
class RenderCost:
    """process() ms/frame of a keyframe model at the plan's cost size (None: not measured, `note` says why)."""

    ms: float | None
    note: str = ""


def _note(text: str) -> str:
    return text.replace("|", "/")  # a note is one markdown table cell


def _mean(values: Sequence[float]) -> object:
    return float(np.mean(values)) if values else NOT_MEASURED


def _cells(score: MethodScore, plan: KeyframePlan) -> list[object]:
    cells: list[object] = [score.method]
    for distance in plan.distances:
        mean, p95 = score.mean_delta_e(distance), score.mean_delta_e_p95(distance)
        cells.append(NOT_MEASURED if mean is None or p95 is None else f"{mean:.2f} / {p95:.1f}")
    shift = score.locked_off_shift
    cells += [_mean(score.colourfulness), _mean(score.flicker), _mean(score.drift),
              NOT_MEASURED if shift is None else f"{shift:.2f}"]
    return [*cells, _note(score.note) or ("" if score.measured else "not measured")]


def header(plan: KeyframePlan) -> list[str]:
    distances = [f"ΔE2000 at {d} frames (mean / p95)" for d in plan.distances]
    return ["method", *distances, "colourfulness", "flicker", "drift", f"{LOCKED_OFF} a*b* shift from keyframe",
            "note"]


def _beats(ours: MethodScore, others: Sequence[MethodScore], plan: KeyframePlan) -> str:
    parts, met = [], True
    for distance in plan.distances:
        value = ours.mean_delta_e(distance)
        rivals = [(o.method, o.mean_delta_e(distance)) for o in others]
        rivals = [(name, v) for name, v in rivals if v is not None]
        if value is None or not rivals:
            return "not assessed (a row was not measured)"
        best = min(v for _, v in rivals)
        met &= value < best
        parts.append(f"{distance}: {value:.2f} vs {best:.2f}")
    return ("met" if met else "not met") + " (" + ", ".join(parts) + ")"


def _ratio_verdict(ours: MethodScore, plan: KeyframePlan) -> str:
    distance = plan.goal_distance
    at_key, at_goal = ours.mean_delta_e(0), ours.mean_delta_e(distance)
    goal = f"Goal, {ours.method} ΔE2000 at {distance} frames ≤ {GOAL_RATIO}× at the keyframe"
    if at_key is None or at_goal is None:
        return f"{goal}: not assessed (this plan does not score those distances)."
    if at_key < NOTICEABLE:  # the keyframe's own frame rendered exactly: no ratio, the error must stay unnoticeable
        met = at_goal <= GOAL_RATIO * NOTICEABLE
        return (f"{goal}: {at_goal:.2f} at {distance} frames, {at_key:.2f} at the keyframe (below a just-noticeable "
                f"{NOTICEABLE:g}, so measured against {GOAL_RATIO}× {NOTICEABLE:g}) — {'met' if met else 'not met'}.")
    ratio = at_goal / at_key
    return f"{goal}: {at_goal:.2f} / {at_key:.2f} = {ratio:.2f}× — {'met' if ratio <= GOAL_RATIO else 'not met'}."


def goal_verdicts(scores: Sequence[MethodScore], plan: KeyframePlan, cost: RenderCost) -> list[str]:
    """One line per goal of issue 19 for each keyframe-kind row, with the number reached."""
    by_name = {s.method: s for s in scores}
    rivals = [by_name[name] for name in (PER_FRAME_ROW, *BASELINE_ROWS) if name in by_name and by_name[name].measured]
    lines = []
    for minutes in plan.keyframe_minutes:
        ours = by_name.get(keyframe_row(minutes))
        name = keyframe_row(minutes)
        if ours is None or not ours.measured:
            lines.append(f"Goals for {name}: not assessed — {(ours.note if ours else '') or 'not measured'}.")
            continue
        lines.append(f"Goal, {name} beats the per-frame model and the classical baseline at every distance (ΔE2000 "
                     f"mean, ours vs the best of them): {_beats(ours, rivals, plan)}.")
        lines.append(_ratio_verdict(ours, plan))
        shift = ours.locked_off_shift
        lines.append(f"Goal, {name} on the {LOCKED_OFF} shot every frame's mean a*b* within {GOAL_SHIFT} of its "
                     "keyframe's: " + ("not assessed" if shift is None else
                                       f"largest {shift:.2f} — {'met' if shift <= GOAL_SHIFT else 'not met'}") + ".")
    width, height = plan.cost_size
    render = ("not measured: " + cost.note) if cost.ms is None else (
        f"{cost.ms:.0f} ms/frame — {'met' if cost.ms <= GOAL_RENDER_MS else 'not met'} ({cost.note})")
    lines.append(f"Goal, render at {width}×{height} ≤ {GOAL_RENDER_MS:.0f} ms/frame on 2 CPU cores (this machine: "
                 f"{os.cpu_count()} cores): {render}.")
    return lines


def keyframes_section(scores: Sequence[MethodScore], plan: KeyframePlan, cost: RenderCost) -> BenchSection:
    """The keyframe table: every method by distance from its keyframe, and its normal render's stability."""
    width, height = plan.cost_size
    notes = [*goal_verdicts(scores, plan, cost), plan.shots_note(),
             "Distance: one-sided propagation. For each painted keyframe at frame k and each distance d, every method "
             "is given only that keyframe (both keyframe inputs = it) and renders frame k+d and k−d where they lie "
             "in the shot; ΔE2000 (mean and 95th percentile) against the truth, averaged over those renders of all "
             "shots. The per-frame model and the grey input ignore keyframes.",
             "Colourfulness (Hasler and Süsstrunk 2003, 0–255 RGB), flicker and drift come from the normal render: "
             "every frame of every shot with its keyframe pair (nearest at or before and at or after, in its shot; "
             "the classical baseline weights the two by 1 / (1 + distance)). Flicker: mean frame-to-frame distance "
             "of a frame's mean (a*, b*); drift: the largest distance of a frame's mean (a*, b*) from the shot's "
             "mean; both of the output's mean minus the truth's, averaged over shots. The "
             f"{LOCKED_OFF} shift: the largest distance of a frame's mean (a*, b*) from its keyframe's (the one at "
             "or before it).",
             "Classical baseline: chromaluma.keyframe_baseline.FlowPropagation — DIS flow from the frame's luma "
             "to the keyframe's with a forward-backward check (chromaluma.align.keyframe_flow, the motion the "
             "keyframe kind's backend uses), the keyframe's Cb, Cr warped along it (bicubic), a weighted guided "
             "filter on the frame's luma; luma kept. Its first version, with Farneback flow and bilinear warping, "
             "is the next row; the goal is judged against the best row. The per-frame model: `train --kind chroma "
             "--density keep` on the keyframe pairs (scan keyframe → painted keyframe). The keyframe kind: `train "
             "--kind keyframes --input SCAN --keyframes DIR` on the reel of all shots. Models render through "
             "`chromaluma.api.process` (keyframes in the arrays form). Every model names its steps and minutes.",
             f"Render time: `chromaluma.api.process` of the keyframe model at {width}×{height} RGBA with its two "
             f"keyframes, {plan.cost_frames} frames timed ({TIMING_NOTE}); the frame is frame 6 of a panning shot "
             "(synth.shots, chelsea), the keyframes its frames 0 and 12 (the keyframes are moved along that motion "
             "before the model runs)."]
    raw = {"rows": [s.summary() for s in scores], "render_ms": cost.ms, "render_note": cost.note,
           "distances": list(plan.distances), "goals": {"ratio": GOAL_RATIO, "distance": plan.goal_distance,
                                                        "shift": GOAL_SHIFT, "render_ms": GOAL_RENDER_MS}}
    return BenchSection("Keyframes: colour carried from painted keyframes",
                        markdown_table(header(plan), [_cells(s, plan) for s in scores]), notes, [], raw)
