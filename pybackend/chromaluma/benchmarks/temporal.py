"""Temporal benchmark: does a temporal window steady Chromaluma's colour along a shot, and what does it cost?

Two chroma shots with ground truth: the quality area's locked-off shot (any frame-to-frame change of an output's
colour is flicker) and a slow pan whose print flickers in exposure (`chromaluma.synth.flicker`), each faded
unevenly, density graded as the quality area does, with a registered DVD reference. Every method — the input,
the per-shot baselines (histogram matching, 3D LUT) and Chromaluma chroma models with temporal radius 0, 1, 2
and 2 with exposure jitter — is scored for chroma flicker, chroma drift, flow-compensated temporal error
(panning shot) and held-out ΔE2000. Then: the same at a few keyframes per shot, luma models with and without a
window on the quality area's detail shots, and what a window costs (ms/frame at 2K, training steps/s).

Training is time-boxed (`TemporalPlan.full`: about 34 CPU minutes of training, the area about 45–50 minutes on
2 cores); `TemporalPlan.quick` trains a few steps on tiny frames for a smoke test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chromaluma.benchmarks import BenchSection
from chromaluma.benchmarks.detail_bound import TAPS, linear_bound, luma_ceiling
from chromaluma.benchmarks.quality import (
    LUMA_DEGRADATION,
    STATIC_DEGRADATION,
    build_shots,
    fit_baselines,
    grade_shots,
    static_shot,
)
from chromaluma.benchmarks.quality_plan import QualityPlan, ShotPairs
from chromaluma.benchmarks.quality_training import TrainingUnavailable
from chromaluma.benchmarks.temporal_plan import LOCKED_OFF, PAN_DEGRADATION, PAN_FLICKER, PANNING, TemporalPlan
from chromaluma.benchmarks.temporal_report import (
    CostRow,
    LumaRow,
    ShotScore,
    TemporalRow,
    chroma_section,
    cost_section,
    keyframe_section,
    luma_section,
)
from chromaluma.benchmarks.temporal_training import (
    TemporalModel,
    TemporalTrainer,
    TrainingRun,
    plugin_ms,
    process_ms,
    untrained_model,
)
from chromaluma.metrics import (
    delta_e2000,
    flow_temporal_error,
    grain_power_ratio,
    mean_chroma,
    psnr,
    ssim,
    stability_of_means,
    truth_flows,
)
from chromaluma.synth.degrade import degrade_shot
from chromaluma.synth.flicker import flicker_exposure
from chromaluma.synth.reference import aligned_reference
from chromaluma.synth.shots import CameraMove, photo_shot

log = logging.getLogger(__name__)

INPUT_ROW = "faded scan, density graded (input)"
TRUTH_ROW = "ground truth (floor)"
SINGLE_FRAME = "Chromaluma chroma, single frame (radius 0)"
CHROMA_RUNS = ((SINGLE_FRAME, TrainingRun("chroma-r0")),
               ("Chromaluma chroma, radius 1", TrainingRun("chroma-r1", radius=1)),
               ("Chromaluma chroma, radius 2", TrainingRun("chroma-r2", radius=2)),
               ("Chromaluma chroma, radius 2 + exposure jitter 0.1", TrainingRun("chroma-r2-jitter", radius=2,
                                                                                 jitter=0.1)))
KEYFRAME_RUNS = ((SINGLE_FRAME, TrainingRun("keyframes-r0")),
                 ("Chromaluma chroma, radius 2 + exposure jitter 0.1", TrainingRun("keyframes-r2-jitter", radius=2,
                                                                                   jitter=0.1)))
LUMA_RUNS = (("Chromaluma luma, single frame (radius 0)", TrainingRun("luma-r0", kind="luma")),
             ("Chromaluma luma, radius 2", TrainingRun("luma-r2", kind="luma", radius=2)))
BASELINES = ("histogram", "3D LUT")
COST_RADII = (0, 1, 2)


def panning_shot(plan: TemporalPlan) -> ShotPairs:
    """A slow pan whose faded, degraded print flickers in exposure, with a registered DVD reference."""
    truth = photo_shot("chelsea", plan.frames, plan.width, plan.height, CameraMove("pan", 0.1), seed=11)
    scans = flicker_exposure(list(degrade_shot(truth, PAN_DEGRADATION)), PAN_FLICKER)
    references, mask = aligned_reference(truth, seed=11)
    return ShotPairs("chelsea (pan, exposure flicker)", truth, scans, references, mask, plan.held_out)


def chroma_shots(plan: TemporalPlan) -> dict[str, ShotPairs]:
    """The locked-off and panning shots, density graded."""
    quality_plan = QualityPlan(plan.width, plan.height, plan.frames, plan.held_out, (), (), 0.0, plan.frames)
    locked = replace(static_shot(quality_plan, STATIC_DEGRADATION), held_out=plan.held_out)
    graded = grade_shots([locked, panning_shot(plan)])
    log.info("temporal: built the %s and %s shots (%d frames at %dx%d)", LOCKED_OFF, PANNING, plan.frames,
             plan.width, plan.height)
    return {LOCKED_OFF: graded[0], PANNING: graded[1]}


ShotOutputs = Callable[[ShotPairs, int], list[np.ndarray]]  # (shot, shot number) → every frame's output


@dataclass
class ShotTruth:
    """What every output of a shot is scored against, computed once: the truth's per-frame mean (a*, b*) and,
    for a moving camera, its trusted optical flow."""

    means: np.ndarray
    flows: list | None = None


def shot_truths(shots: dict[str, ShotPairs], moving: Sequence[str]) -> dict[str, ShotTruth]:
    return {label: ShotTruth(mean_chroma(shot.truth, shot.mask), truth_flows(shot.truth) if label in moving else None)
            for label, shot in shots.items()}


def score_shot(outputs: Sequence[np.ndarray], shot: ShotPairs, truth: ShotTruth) -> ShotScore:
    """Flicker and drift over all frames (of the mean a*b* minus the truth's), temporal error where the truth's
    flows are given, held-out ΔE2000."""
    flicker, drift = stability_of_means(mean_chroma(outputs, shot.mask) - truth.means)
    flows = truth.flows
    temporal = None if flows is None else flow_temporal_error(outputs, shot.truth, shot.mask, flows)
    held_out = range(len(shot.truth))[shot.test]
    delta_e = float(np.mean([delta_e2000(outputs[i], shot.truth[i], shot.mask).mean for i in held_out]))
    return ShotScore(flicker, drift, temporal, delta_e)


def score_rows(methods: Sequence[tuple[str, ShotOutputs | None, str]], shots: dict[str, ShotPairs],
               truths: dict[str, ShotTruth]) -> list[TemporalRow]:
    """Each method's row: its outputs of every frame of every shot, scored (one method in memory at a time)."""
    rows = []
    for name, outputs_of, note in methods:
        row = TemporalRow(name, note=note)
        if outputs_of is not None:
            for number, (label, shot) in enumerate(shots.items()):
                row.shots[label] = score_shot(outputs_of(shot, number), shot, truths[label])
        rows.append(row)
        log.info("temporal: scored %s", name)
    return rows


def trained_methods(trainer: TemporalTrainer, runs: Sequence[tuple[str, TrainingRun]], pairs_dir: Path,
                    minutes: float) -> tuple[list[tuple[str, ShotOutputs | None, str]], dict[str, TemporalModel]]:
    """Chromaluma's methods (a model each, or not measured with the reason) and the models by run label."""
    methods: list[tuple[str, ShotOutputs | None, str]] = []
    models = {}
    for name, run in runs:
        try:
            model = trainer.train(run, pairs_dir, minutes)
        except TrainingUnavailable as exc:
            log.warning("temporal: %s not measured: %s", name, exc)
            methods.append((name, None, f"not measured: {exc}"))
            continue
        models[run.label] = model
        methods.append((name, lambda shot, _, model=model: model.restore_shot(shot.scans), model.note))
    return methods, models


def baseline_methods(shots: Sequence[ShotPairs]) -> list[tuple[str, ShotOutputs | None, str]]:
    """The input and the per-shot colour baselines (histogram matching, 3D LUT), fitted on each shot's pairs."""
    methods: list[tuple[str, ShotOutputs | None, str]] = [
        (TRUTH_ROW, lambda shot, _: shot.truth, ""), (INPUT_ROW, lambda shot, _: [s[..., :3] for s in shot.scans], "")]
    for method in fit_baselines("chroma", shots):
        if method.name.startswith(BASELINES) and method.restore is not None:
            methods.append((method.name, lambda shot, number, restore=method.restore:
                            [restore(scan, number) for scan in shot.scans], method.note))
    return methods


def luma_rows(plan: TemporalPlan, trainer: TemporalTrainer) -> tuple[list[LumaRow], dict[str, TemporalModel]]:
    """Input, reference print and luma models of radius 0 and 2 on the quality area's detail shots."""
    shots = build_shots(plan.luma, LUMA_DEGRADATION, "print")
    pairs_dir = trainer.pairs("luma", shots, [range(len(s.truth))[s.train] for s in shots])
    held = [(shot, i) for shot in shots for i in range(len(shot.truth))[shot.test]]
    input_psnr = float(np.mean([psnr(shot.scans[i][..., :3], shot.truth[i][..., :3]) for shot, i in held]))
    references = [shot.references[i] for shot, i in held]

    def row(name: str, outputs: list[np.ndarray], note: str) -> LumaRow:
        truths = [shot.truth[i] for shot, i in held]
        value = float(np.mean([psnr(o[..., :3], t[..., :3]) for o, t in zip(outputs, truths, strict=True)]))
        return LumaRow(name, value, value - input_psnr, float(np.mean([ssim(o, t) for o, t in
                                                                       zip(outputs, truths, strict=True)])),
                       grain_power_ratio(outputs, references), note)

    rows = [row("duplicate negative scan (input)", [shot.scans[i] for shot, i in held], ""),
            row("reference print itself (informative)", references, "what the models learn from"),
            *bound_rows(shots, row)]
    models = {}
    for name, run in LUMA_RUNS:
        try:
            model = trainer.train(run, pairs_dir, plan.luma_minutes)
        except TrainingUnavailable as exc:
            rows.append(LumaRow(name, note=f"not measured: {exc}"))
            continue
        models[run.label] = model
        restored = {id(shot): model.restore_shot(shot.scans) for shot in shots}
        rows.append(row(name, [restored[id(shot)][i] for shot, i in held], model.note))
        log.info("temporal: scored %s", name)
    return rows, models


def bound_rows(shots: Sequence[ShotPairs], row: Callable[[str, list[np.ndarray], str], LumaRow]) -> list[LumaRow]:
    """Yardsticks for the luma goal (:mod:`chromaluma.benchmarks.detail_bound`), each fitted per shot on its held-out
    frames: what no luma restoration can pass, and the best linear filter fitted on the truth or on the reference."""
    def bound(targets: str, radius: int) -> list[np.ndarray]:
        outputs = []
        for shot in shots:
            frames = list(range(len(shot.truth))[shot.test])
            outputs.extend(linear_bound(shot.scans, getattr(shot, targets), frames, radius))
        return outputs

    taps = f"{TAPS}×{TAPS} taps + offset, least squares on the held-out frames"
    return [row("scan with the truth's luma (ceiling, informative)",
                [luma_ceiling(shot.scans[i], shot.truth[i]) for shot in shots
                 for i in range(len(shot.truth))[shot.test]], "the scan's own colour error is all that is left"),
            row("linear filter fitted on the truth itself (bound, informative)", bound("truth", 0), taps),
            row("linear filter on 5 frames moved by flow, fitted on the truth (bound, informative)",
                bound("truth", 2), f"{taps}; DIS flow as the repair kind moves neighbours"),
            row("linear filter fitted on the reference print (what the reference teaches, informative)",
                bound("references", 0), taps)]


def cost_rows(plan: TemporalPlan, workdir: Path, models: dict[str, TemporalModel]) -> list[CostRow]:
    """ms/frame of process() (and the plug-in, in a full run) at 2K per radius, and training steps/s."""
    rows = []
    width, height = plan.cost_size
    for radius in COST_RADII:
        trained = models.get(f"chroma-r{radius}")
        speed = trained.steps_per_second if trained else None
        try:
            model = untrained_model(workdir, "chroma", radius)
            process = process_ms(model, radius, width, height, plan.cost_frames)
        except Exception as exc:  # noqa: BLE001 — a radius the build cannot run is reported, the others still run
            rows.append(CostRow(radius, None, None, speed, f"not measured: {str(exc).splitlines()[0][:200]}"))
            continue
        plugin, note = (plugin_ms(model, workdir, plan.cost_frames) if plan.plugin
                        else (None, "plug-in not measured in a quick run"))
        rows.append(CostRow(radius, process, plugin, speed, note))
        log.info("temporal: cost of radius %d measured", radius)
    return rows


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """The temporal area of `make bench`: colour stability, few keyframes, detail with a window, cost."""
    workdir.mkdir(parents=True, exist_ok=True)
    plan = TemporalPlan.quick() if quick else TemporalPlan.full()
    trainer = TemporalTrainer(workdir, quick)
    shots = chroma_shots(plan)
    truths = shot_truths(shots, moving=(PANNING,))
    training = [range(len(s.truth))[s.train] for s in shots.values()]
    ours, models = trained_methods(trainer, CHROMA_RUNS, trainer.pairs("chroma", list(shots.values()), training),
                                   plan.chroma_minutes)
    rows = score_rows([*baseline_methods(list(shots.values())), *ours], shots, truths)
    keyframes = trainer.pairs("keyframes", list(shots.values()), [plan.keyframe_indices()] * len(shots))
    few, _ = trained_methods(trainer, KEYFRAME_RUNS, keyframes, plan.keyframe_minutes)
    stills = {label: replace(truth, flows=None) for label, truth in truths.items()}  # no temporal error column
    keyframe_rows = score_rows([(INPUT_ROW, lambda shot, _: [s[..., :3] for s in shot.scans], ""), *few], shots,
                               stills)
    del shots, truths, stills
    luma, _ = luma_rows(plan, trainer)
    return [chroma_section(rows, plan, SINGLE_FRAME), keyframe_section(keyframe_rows, plan),
            luma_section(luma, plan), cost_section(cost_rows(plan, workdir, models), plan)]
