"""Tables, goals and notes of the repair benchmark (see :mod:`chromaluma.benchmarks.repair`)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from chromaluma.benchmarks import BenchSection, markdown_table
from chromaluma.benchmarks.render_timing import TIMING_NOTE
from chromaluma.benchmarks.repair_metrics import DETECTED_SHARE, OPACITY_FLOOR, TOLERANCE_PX, DetectionCounts
from chromaluma.benchmarks.repair_plan import BASELINE_ROWS, MIXES, SENSITIVITY, MethodScore, RepairPlan, repair_row

GOAL_DETECTION = 0.9  # precision and recall, each
GOAL_CLASSES = ("speck", "hair")
GOAL_PSNR_MARGIN_DB = 3.0
GOAL_EXACT = 0.995
GOAL_RENDER_MS = 1500.0
NOT_MEASURED = "—"


def _note(text: str) -> str:
    return text.replace("|", "/")  # a note is one markdown table cell


def _share(value: float | None) -> str:
    return NOT_MEASURED if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return NOT_MEASURED if value is None else f"{100.0 * value:.2f} %"


def _db(value: float | None) -> str:
    return NOT_MEASURED if value is None else ("∞" if math.isinf(value) else f"{value:.2f}")


def _class_cell(counts: DetectionCounts, class_id: int | None, detects: bool) -> str:
    if class_id is None or class_id not in counts.classes():
        return NOT_MEASURED
    precision = counts.precision(class_id) if detects else None
    return f"{_share(precision)} / {_share(counts.recall(class_id) if detects else None)}"


def class_ids(class_names: dict[int, str]) -> dict[str, int]:
    return {name: class_id for class_id, name in class_names.items()}


def header(class_names: dict[int, str]) -> list[str]:
    classes = [f"{name} P / R" for _, name in sorted(class_names.items())]
    return ["method", "mix", "precision", "recall", *classes, "PSNR in damage (dB)", "SSIM in damage",
            "undamaged bit-exact", "note"]


def rows(scores: Sequence[MethodScore], class_names: dict[int, str]) -> list[list[object]]:
    """One row per method and mix, in mix order; a method that was not measured is one row saying why."""
    table: list[list[object]] = []
    blanks = [NOT_MEASURED] * (len(class_names) + 5)
    for score in scores:
        if not score.measured:
            table.append([score.method, "all", *blanks, _note(score.note) or "not measured"])
            continue
        for mix in (name for name in MIXES if name in score.mixes):
            counts, regions = score.mixes[mix].detection, score.mixes[mix].regions
            detects = score.detects
            table.append([score.method, mix, _share(counts.precision() if detects else None),
                          _share(counts.recall() if detects else None),
                          *[_class_cell(counts, class_id, detects) for class_id in sorted(class_names)],
                          _db(regions.psnr), _share(regions.ssim), _percent(regions.exact_share), _note(score.note)])
    return table


def _detection_verdict(ours: MethodScore, class_names: dict[int, str]) -> str:
    """Lowest precision and recall of each goal class over the mixes that hold it."""
    ids = class_ids(class_names)
    parts, met = [], True
    for name in GOAL_CLASSES:
        counts = [s.detection for s in ours.mixes.values() if ids.get(name) in s.detection.classes()]
        if not counts:
            return f"not assessed (no mix holds a {name})"
        precision = [c.precision(ids[name]) for c in counts]  # None: that mix's matte was empty
        low_p = None if None in precision else min(precision)
        low_r = min(c.recall(ids[name]) or 0.0 for c in counts)
        met &= low_p is not None and low_p >= GOAL_DETECTION and low_r >= GOAL_DETECTION
        parts.append(f"{name} P {_share(low_p)} / R {low_r:.2f}")
    return ("met" if met else "not met") + " (lowest over the mixes: " + ", ".join(parts) + ")"


def _psnr_verdict(ours: MethodScore, baselines: Sequence[MethodScore]) -> str:
    """Ours against the best baseline + the margin, in every mix."""
    parts, met = [], True
    for mix in (name for name in MIXES if name in ours.mixes):
        rivals = [s.mixes[mix].regions.psnr for s in baselines if mix in s.mixes]
        rivals = [value for value in rivals if value is not None]
        value = ours.mixes[mix].regions.psnr
        if value is None or not rivals:
            return "not assessed (a baseline or this row has no PSNR for " + mix + ")"
        best = max(rivals)
        met &= value >= best + GOAL_PSNR_MARGIN_DB
        parts.append(f"{mix} {_db(value)} vs {_db(best)}")
    return ("met" if met else "not met") + " (ours vs the best baseline, dB: " + ", ".join(parts) + ")"


def _exact_verdict(ours: MethodScore) -> str:
    shares = [s.regions.exact_share for s in ours.mixes.values() if s.regions.exact_share is not None]
    if not shares:
        return "not assessed (no undamaged pixel)"
    low = min(shares)
    return f"lowest over the mixes {_percent(low)} — {'met' if low >= GOAL_EXACT else 'not met'}"


def goal_verdicts(scores: Sequence[MethodScore], plan: RepairPlan, class_names: dict[int, str]) -> list[str]:
    """One line per goal of issue 20 for each repair-kind row, with the number reached and the row's steps."""
    by_name = {s.method: s for s in scores}
    baselines = [by_name[name] for name in BASELINE_ROWS if name in by_name and by_name[name].measured]
    lines = []
    for minutes in plan.minutes:
        name = repair_row(minutes)
        ours = by_name.get(name)
        if ours is None:
            lines.append(f"Goals for {name}: not assessed — not measured.")
            continue
        trained = f" [{ours.note}]" if ours.note else ""
        if not ours.measured:
            lines.append(f"Goals for {name}: not assessed — {ours.note or 'not measured'}.")
        else:
            lines.append(f"Goal, {name}{trained}: precision and recall ≥ {GOAL_DETECTION} on "
                         f"{' and '.join(GOAL_CLASSES)}: {_detection_verdict(ours, class_names)}.")
            lines.append(f"Goal, {name}{trained}: PSNR inside damaged regions ≥ the best baseline + "
                         f"{GOAL_PSNR_MARGIN_DB:g} dB in every mix: {_psnr_verdict(ours, baselines)}.")
            lines.append(f"Goal, {name}{trained}: ≥ {100 * GOAL_EXACT:g} % of undamaged pixels bit-exact: "
                         f"{_exact_verdict(ours)}.")
        lines.append(_render_verdict(name, trained if ours.measured else "", ours, plan))
    return lines


def _render_verdict(name: str, trained: str, ours: MethodScore, plan: RepairPlan) -> str:
    width, height = plan.cost_size
    ms = ours.ms_2k
    render = (f"not measured ({ours.time_note or 'no model'})" if ms is None else
              f"{ms:.0f} ms/frame — {'met' if ms <= GOAL_RENDER_MS else 'not met'}"
              + (f" ({ours.time_note})" if ours.time_note else ""))
    return (f"Goal, {name}{trained}: repair at {width}×{height} ≤ {GOAL_RENDER_MS:.0f} ms/frame on 2 CPU cores (this "
            f"machine: {os.cpu_count()} cores): {render}.")


def _cost_table(scores: Sequence[MethodScore], plan: RepairPlan) -> str:
    width, height = plan.cost_size
    table = [[s.method, NOT_MEASURED if s.ms_2k is None else f"{s.ms_2k:.0f}", _note(s.time_note or s.note)]
             for s in scores if s.detects]
    return markdown_table(["method", f"ms/frame at {width}×{height}", "note"], table)


def method_notes(plan: RepairPlan) -> list[str]:
    width, height = plan.cost_size
    return [
        plan.shots_note(),
        f"Detection (object level): a ground-truth defect is a connected component (8-connected) of damage opacity "
        f"≥ {OPACITY_FLOOR} among the pixels of one class; it is found when ≥ {100 * DETECTED_SHARE:g} % of its "
        f"pixels lie within {TOLERANCE_PX} px of the applied matte. A matte component is a true detection when it "
        f"lies within {TOLERANCE_PX} px of ground truth (credited to the class it touches most), false otherwise. "
        "Precision = true / matte components; a class's precision is charged with every false detection of its "
        "mix. P / R per mix pooled over its shots and frames; '—' where the mix has no such defect or the method "
        "has no matte.",
        f"PSNR and SSIM (Gaussian window σ 1.5, per channel) against the clean frame at the pixels of damage "
        f"opacity ≥ {OPACITY_FLOOR} only, squared errors pooled over the mix; bit-exact: the share of pixels with "
        "no damage at all (opacity 0) whose output has the same float32 bits as the damaged input.",
        "Baselines: chromaluma.damage_baselines (SpikeDetectionRepair: SDI/ROD on DIS-flow-compensated ±2 frames, "
        "median fill; ThresholdInpaintRepair: luma minus its median blur, a vertical-line test, OpenCV Telea "
        "inpainting), thresholds tuned on the training shot where they offer it. The repair kind: `chromaluma "
        "train --kind repair --input SCAN --minutes N` on the training shot (default temporal radius), applied "
        f"through `chromaluma.api.process_frame` with sensitivity {SENSITIVITY} and the applied matte read back. "
        "Every model names its steps and minutes.",
        f"Render time: each method on one {width}×{height} damaged frame with its ±2 neighbours (the model through "
        f"`chromaluma.api.process_frame`), {plan.cost_frames} frames timed: {TIMING_NOTE}.",
    ]


def repair_sections(scores: Sequence[MethodScore], plan: RepairPlan, class_names: dict[int, str]
                    ) -> list[BenchSection]:
    """The repair table (method × mix), the goals, and the render-time table."""
    notes = [*goal_verdicts(scores, plan, class_names), *method_notes(plan)]
    raw = {"rows": [s.summary(class_names) for s in scores], "size": [plan.width, plan.height],
           "cost_size": list(plan.cost_size),
           "goals": {"detection": GOAL_DETECTION, "classes": list(GOAL_CLASSES),
                     "psnr_margin_db": GOAL_PSNR_MARGIN_DB, "undamaged_exact": GOAL_EXACT,
                     "render_ms": GOAL_RENDER_MS}}
    width, height = plan.cost_size
    return [BenchSection("Repair: dust, dirt and scratches found and repaired, by damage mix",
                         markdown_table(header(class_names), rows(scores, class_names)), notes, [], raw),
            BenchSection(f"Repair: render time at {width}×{height}", _cost_table(scores, plan), [], [],
                         {"ms": {s.method: s.ms_2k for s in scores}})]
