"""Repair benchmark: how much of the dust, dirt, hairs, sparkle and scratches on a shot is found and repaired, and
is every other pixel left alone?

Held-out shots of clean footage (public-domain photographs under a panning, zooming and locked-off camera) carry
synthetic damage with exact ground truth (:class:`chromaluma.synth.damage.ShotDamage`: opacity and class per
pixel) in four mixes. Every method — the damaged input itself, the two classical baselines
(:mod:`chromaluma.damage_baselines`, thresholds tuned on the training shot) and the repair kind after 5 and 15 CPU
minutes of `chromaluma train --kind repair` on a training shot of another photograph — repairs every frame with its
±2 neighbours and is scored by :mod:`~chromaluma.benchmarks.repair_metrics`: object-level precision and recall of
the matte it applied (overall and per damage class), PSNR and SSIM inside the damage, the share of undamaged pixels
left bit-exact. Then each method's render time at 2K.

`RepairPlan.full` takes about 35 minutes on 2 cores (20 of them training); `RepairPlan.quick` trains 2 steps on
tiny frames for a smoke test.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chromaluma.benchmarks import BenchSection
from chromaluma.benchmarks.repair_metrics import detection_counts, region_scores
from chromaluma.benchmarks.repair_plan import (
    HEAVY_AMOUNT,
    HEAVY_MIX,
    INPAINT_ROW,
    INPUT_ROW,
    MIXES,
    SPIKE_ROW,
    MethodScore,
    RepairPlan,
    RepairShot,
    ShotSpec,
    repair_row,
)
from chromaluma.benchmarks.repair_report import repair_sections
from chromaluma.benchmarks.repair_training import (
    DEFAULT_RADIUS,
    Repair,
    RepairTrainer,
    model_repair,
    repair_ms,
    untrained_repair_model,
    write_scan,
)
from chromaluma.damage_baselines import SpikeDetectionRepair, ThresholdInpaintRepair
from chromaluma.errors import ChromalumaError
from chromaluma.synth.damage import DAMAGE_CLASSES, DamageStatistics, ShotDamage
from chromaluma.synth.shots import CameraMove, photo_shot

log = logging.getLogger(__name__)

# DamageStatistics field of each damage class's density (scratches are counted per shot, the rest per megapixel)
DENSITY_FIELDS = {"speck": "specks", "hair": "hairs", "sparkle": "sparkle", "scratch": "scratches_per_shot",
                  "blotch": "blotches"}
MIN_SCRATCHES = 3.0  # per shot in the scratches mix: enough scratches in every shot to score
TUNING_FRAMES = 6  # training-shot frames the baselines' thresholds are picked on


def mix_statistics(mix: str, boost: float = 1.0) -> DamageStatistics:
    """The default damage statistics with only `mix`'s classes drawn; the heavy mix denser, per-megapixel densities
    × `boost`."""
    statistics = DamageStatistics.default()
    drawn = MIXES[mix]
    statistics = dataclasses.replace(statistics, **{field: 0.0 for name, field in DENSITY_FIELDS.items()
                                                    if name not in drawn})
    if mix == HEAVY_MIX:
        statistics = statistics.scaled(HEAVY_AMOUNT)
    if drawn == ("scratch",):
        statistics = dataclasses.replace(statistics,
                                         scratches_per_shot=max(statistics.scratches_per_shot, MIN_SCRATCHES))
    per_megapixel = {field: getattr(statistics, field) * boost for name, field in DENSITY_FIELDS.items()
                     if name != "scratch"}
    return dataclasses.replace(statistics, **per_megapixel)


def clean_shot(spec: ShotSpec, plan: RepairPlan, seed: int, size: tuple[int, int] | None = None,
               frames: int | None = None) -> list[np.ndarray]:
    _, photo, move = spec
    width, height = size or (plan.width, plan.height)
    return photo_shot(photo, frames or plan.frames, width, height, CameraMove(move), seed=seed)


def damaged_shot(label: str, mix: str, clean: Sequence[np.ndarray], statistics: DamageStatistics,
                 seed: int) -> RepairShot:
    """`clean` under the damage `statistics` drawn from `seed`, with its ground truth."""
    height, width = clean[0].shape[:2]
    damage = ShotDamage.plan(width, height, len(clean), statistics, seed)
    drawn = [damage.apply(frame, index) for index, frame in enumerate(clean)]
    return RepairShot(label, mix, list(clean), [np.ascontiguousarray(d.frame, dtype=np.float32) for d in drawn],
                      [d.opacity for d in drawn], [d.classes for d in drawn])


def held_out_shots(plan: RepairPlan) -> Iterator[RepairShot]:
    """Every held-out shot under every mix, one at a time (fixed seeds: the same damage on every run)."""
    for number, spec in enumerate(plan.shots):
        clean = clean_shot(spec, plan, seed=number)
        for mix_number, mix in enumerate(MIXES):
            yield damaged_shot(spec[0], mix, clean, mix_statistics(mix, plan.density_boost),
                               seed=1000 + 10 * number + mix_number)
            log.info("repair: scored the %s shot under the %s mix", spec[0], mix)


def training_shot(plan: RepairPlan) -> RepairShot:
    """The training shot (a photograph no held-out shot uses) with the default damage × plan.training_damage."""
    clean = clean_shot(plan.training_shot, plan, seed=99)
    statistics = DamageStatistics.default().scaled(plan.training_damage)
    statistics = dataclasses.replace(statistics, **{field: getattr(statistics, field) * plan.density_boost
                                                    for name, field in DENSITY_FIELDS.items() if name != "scratch"})
    return damaged_shot(plan.training_shot[0], "training", clean, statistics, seed=99)


def windowed(method: object, radius: int = DEFAULT_RADIUS) -> Repair:
    """A baseline (`repair(window, centre)`) given frame t of a shot with its ±radius neighbours inside the shot."""
    def repair(frames: Sequence[np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
        start = max(0, index - radius)
        return method.repair(list(frames[start:index + radius + 1]), index - start)  # type: ignore[attr-defined]

    return repair


def unrepaired(frames: Sequence[np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    return frames[index], np.zeros(frames[index].shape[:2], np.float32)


def tuned_baselines(training: RepairShot, radius: int = DEFAULT_RADIUS) -> list[Method]:
    """Both baselines with thresholds picked on the training shot (their own `tune`, against its clean frames)."""
    picks = np.linspace(0, len(training.damaged) - 1, min(TUNING_FRAMES, len(training.damaged))).round().astype(int)
    windows, centres = [], []
    for index in picks:
        start = max(0, index - radius)
        windows.append(training.damaged[start:index + radius + 1])
        centres.append(int(index - start))
    truths = [training.clean[index] for index in picks]
    spike = SpikeDetectionRepair.tune(windows, centres, truths)
    inpaint = ThresholdInpaintRepair.tune(windows, centres, truths)
    return [Method(SPIKE_ROW, windowed(spike, radius), f"threshold {spike.threshold:g} (tuned)"),
            Method(INPAINT_ROW, windowed(inpaint, radius),
                   f"threshold {inpaint.threshold:g}, scratch threshold {inpaint.scratch_threshold:g} (tuned)")]


@dataclass
class Method:
    """One row: how it repairs a frame of a shot (None: it could not be made, `note` says why)."""

    name: str
    repair: Repair | None
    note: str = ""
    detects: bool = True  # False for the damaged input: it has no matte


def score_shot(score: MethodScore, repair: Repair, shot: RepairShot) -> None:
    """Every frame of `shot` repaired with its window and scored into `score`'s mix."""
    mix = score.mix(shot.mix)
    for index, damaged in enumerate(shot.damaged):
        output, matte = repair(shot.damaged, index)
        mix.detection.add(detection_counts(matte, shot.opacity[index], shot.classes[index]))
        mix.regions.add(region_scores(output, damaged, shot.clean[index], shot.opacity[index]))
        mix.frames += 1


def score_methods(methods: Sequence[Method], shots: Iterable[RepairShot]) -> list[MethodScore]:
    """Every method over every shot (shots made one at a time: the held-out set never sits in memory whole); a
    method that fails is a row with the reason, and the others still run."""
    scores = {m.name: MethodScore(m.name, note=m.note, detects=m.detects) for m in methods}
    failed: set[str] = set()
    for shot in shots:
        for method in methods:
            if method.repair is None or method.name in failed:
                continue
            try:
                score_shot(scores[method.name], method.repair, shot)
            except Exception as exc:  # noqa: BLE001 — one method's failure is its row's note; the others still run
                log.error("repair: %s failed: %s", method.name, exc)
                failed.add(method.name)
                scores[method.name] = MethodScore(method.name, note=f"not measured: {str(exc).splitlines()[0][:200]}",
                                                  detects=method.detects)
    return [scores[m.name] for m in methods]


def trained_models(trainer: RepairTrainer, plan: RepairPlan, scan: Path) -> list[Method]:
    """The repair kind's rows: one model per budget (a renderer and its steps, or None and why)."""
    methods: list[Method] = []
    for minutes in plan.minutes:
        try:
            model = trainer.train(scan, minutes)
        except ChromalumaError as exc:  # TrainingUnavailable: this build cannot train it, or the run failed
            log.warning("repair: %s not measured: %s", repair_row(minutes), exc)
            methods.append(Method(repair_row(minutes), None, f"not measured: {exc}"))
            continue
        methods.append(Method(repair_row(minutes), model_repair(model.path), model.note))
    return methods


def cost_window(plan: RepairPlan) -> list[np.ndarray]:
    """2R + 1 damaged frames at the plan's cost size (the heavy mix): what each method is timed on."""
    width, height = plan.cost_size
    frames = 2 * DEFAULT_RADIUS + 1
    clean = clean_shot(plan.shots[0], plan, seed=7, size=(width, height), frames=frames)
    return damaged_shot("cost", HEAVY_MIX, clean, mix_statistics(HEAVY_MIX, plan.density_boost), seed=7).damaged


def time_methods(scores: Sequence[MethodScore], methods: Sequence[Method], plan: RepairPlan, workdir: Path) -> None:
    """Each method's ms/frame on the cost window (a model row that was not trained: an untrained model of the
    shipped architecture, since speed does not depend on what was learnt)."""
    window = cost_window(plan)
    untrained: list[Repair] = []  # exported once, for every row whose model was not trained
    for score, method in zip(scores, methods, strict=True):
        if not method.detects:
            continue
        repair = method.repair
        try:
            if repair is None:
                untrained = untrained or [model_repair(untrained_repair_model(workdir))]
                repair = untrained[0]
                score.time_note = f"untrained model of the shipped size (not trained: {method.note})"
            score.ms_2k = repair_ms(repair, window, DEFAULT_RADIUS, plan.cost_frames)
        except Exception as exc:  # noqa: BLE001 — a failed timing is reported, the table still stands
            log.warning("repair: %s not timed: %s", score.method, exc)
            score.time_note = f"not measured: {str(exc).splitlines()[0][:200]}"


def class_names() -> dict[int, str]:
    return {number: name for number, name in enumerate(DAMAGE_CLASSES, start=1)}


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """The repair area of `make bench`: every method on every mix, its render time, the goals."""
    workdir.mkdir(parents=True, exist_ok=True)
    plan = RepairPlan.quick() if quick else RepairPlan.full()
    training = training_shot(plan)
    scan = write_scan(workdir / "scan", training.damaged)
    models = trained_models(RepairTrainer(workdir, plan.quick_steps), plan, scan)
    methods = [Method(INPUT_ROW, unrepaired, detects=False), *tuned_baselines(training), *models]
    scores = score_methods(methods, held_out_shots(plan))
    time_methods(scores, methods, plan, workdir)
    return repair_sections(scores, plan, class_names())
