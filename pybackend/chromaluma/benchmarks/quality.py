"""Quality benchmark: is Chromaluma better than what a restorer does today?

Shots are built from clean public-domain photographs (:mod:`chromaluma.synth.shots`) as slow pans and zooms,
degraded by :mod:`chromaluma.synth` and paired with a neutral DVD reference already registered onto the scan
(:mod:`chromaluma.synth.reference`). Each shot's first frames are the training pairs; its last frames are held
out and never seen by any method. Every method — the classical baselines of :mod:`chromaluma.baselines` and
Chromaluma's models — is fitted on the same training pairs and scored on the held-out frames against the clean
ground truth (ΔE2000 mean and 95th percentile, PSNR, SSIM; :mod:`chromaluma.metrics`).

Two colour tables. The headline is the restorer's real situation, **faded print, density graded**: the density
(lightness) of a faded print is the colourist's job — a per-shot tone curve on luma
(:class:`chromaluma.baselines.DensityGrade`), fitted on that shot's *training* pairs only (scan Y → reference Y;
the held-out truth is never used) — and colour is then recovered from the graded scan by each method. Every row,
the input included, starts from the same graded scan. The second table is the **ungraded** scan, where a
chroma model keeps the fade's lightness change by construction; its "truth chroma on the scan's luma" row is
the best any chroma-only method can score there. The chroma shots fade unevenly (faded edges, blotches, a drift
along the shot; :mod:`chromaluma.synth.uneven`), so no global colour mapping can be exact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chromaluma.baselines import REC709, DensityGrade, colour_baselines, luma_baselines, with_luma
from chromaluma.benchmarks import BenchSection
from chromaluma.benchmarks.quality_plan import QualityPlan, Scores, ShotPairs
from chromaluma.benchmarks.quality_training import ChromalumaTrainer, TrainingUnavailable
from chromaluma.metrics import delta_e2000
from chromaluma.models import DEFAULT_PROCESSING_SCALE
from chromaluma.models.blocks import grid_factor
from chromaluma.models.density import band_limit_px, colour_on_smooth_density
from chromaluma.synth.degrade import Degradation, degrade_shot
from chromaluma.synth.reference import aligned_reference
from chromaluma.synth.shots import CameraMove, photo_shot

log = logging.getLogger(__name__)


def build_shots(plan: QualityPlan, degradation: Degradation, reference: str = "dvd") -> list[ShotPairs]:
    """The benchmark's shots, degraded by `degradation`, each with its registered reference.

    `reference="dvd"`: a neutral DVD registered onto the scan (the colour reference of a chroma job);
    `reference="print"`: a better, undamaged 16mm print of the same negative, one generation down (the detail
    reference of a luma job).
    """
    shots = []
    for number, (photo, move) in enumerate(plan.shots):
        truth = photo_shot(photo, plan.frames, plan.width, plan.height, CameraMove(move), seed=number)
        seeded = Degradation(**{**vars(degradation), "seed": degradation.seed + number})
        scans = list(degrade_shot(truth, seeded))
        if reference == "dvd":
            references, mask = aligned_reference(truth, seed=number)
        else:
            better = Degradation(fade=0.0, generations=1, stock="16mm", seed=degradation.seed + 50 + number)
            references, mask = list(degrade_shot(truth, better)), np.ones((plan.height, plan.width), np.float32)
        shots.append(ShotPairs(f"{photo} ({move})", truth, scans, references, mask, plan.held_out))
        log.info("quality: built shot %s (%s), %d frames at %dx%d", photo, move, plan.frames, plan.width, plan.height)
    return shots


def static_shot(plan: QualityPlan, degradation: Degradation) -> ShotPairs:
    """A locked-off shot (no camera move): any frame-to-frame colour change in an output is flicker.

    Its first two frames, paired with a registered DVD of them, are the shot's training pairs (for its density
    grade and its per-shot baselines); flicker is measured over all its frames.
    """
    truth = photo_shot("astronaut", plan.static_frames, plan.width, plan.height, CameraMove("static"), seed=9)
    scans = list(degrade_shot(truth, degradation))
    references, mask = aligned_reference(truth, seed=9)
    return ShotPairs("astronaut (static)", truth, scans, references, mask, held_out=plan.static_frames - 2)


def temporal_methods(static: ShotPairs, chroma_methods: Sequence[Method]) -> list[Method]:
    """The static shot's methods: the input, per-shot baselines fitted on its own training pairs, and the
    Chromaluma models trained for the colour table (one model per film, not per shot)."""
    ours = [m for m in chroma_methods if m.name.startswith("Chromaluma")]
    return [Method("faded scan, density graded (input)", lambda scan, _: scan[..., :3]),
            *fit_baselines("chroma", [static]), *ours]


def grade_shots(shots: Sequence[ShotPairs]) -> list[ShotPairs]:
    """Each shot with every scan frame density graded by a curve fitted on that shot's training pairs only."""
    graded = []
    for shot in shots:
        train_scans = shot.scans[shot.train]
        grade = DensityGrade().fit(train_scans, shot.references[shot.train], [shot.mask] * len(train_scans))
        graded.append(replace(shot, scans=[grade.apply(scan) for scan in shot.scans]))
        log.info("quality: density graded %s (curve from %d training pairs)", shot.name, len(train_scans))
    return graded


def _training_pairs(shots: Sequence[ShotPairs]) -> tuple[list, list, list]:
    scans = [s for shot in shots for s in shot.scans[shot.train]]
    references = [r for shot in shots for r in shot.references[shot.train]]
    masks = [shot.mask for shot in shots for _ in shot.scans[shot.train]]
    return scans, references, masks


def chroma_floor(scan: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The truth's colour on the scan's luma: the best result a chroma-only method can reach."""
    return with_luma(truth, scan[..., :3] @ REC709)


def smooth_density_floor(scan: np.ndarray, reference: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The truth's colour on the scan's luma plus the reference's density difference box-averaged over the band
    limit of a default chroma model (DENSITY_CELLS·f pixels): the best a smooth-density chroma model can reach."""
    band = band_limit_px(grid_factor(DEFAULT_PROCESSING_SCALE["chroma"]))
    return np.clip(colour_on_smooth_density(truth, scan, reference, band, mask), 0.0, 1.0)


Restore = Callable[[np.ndarray, int], np.ndarray]  # (scan frame, shot number) → restored frame
# (scan, registered reference, clean truth, reference mask) → a frame: rows computed without training
Reachable = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Method:
    """A fitted restoration: its name, the function that restores one scan frame of a given shot, a note."""

    name: str
    restore: Restore | None
    note: str = ""


def fit_baselines(kind: str, shots: Sequence[ShotPairs]) -> list[Method]:
    """The classical baselines, fitted on the training pairs: colour ones per shot (a colourist matches shot by
    shot, so each shot gets its own LUT, transfer or regression), detail ones once on all shots' pairs (the blur
    they undo belongs to the print, not the shot)."""
    methods = []
    if kind == "chroma":
        for index, name in enumerate(b.name for b in colour_baselines()):
            started = time.perf_counter()
            fitted = [colour_baselines()[index].fit(shot.scans[shot.train], shot.references[shot.train],
                                                    [shot.mask] * len(shot.scans[shot.train])) for shot in shots]
            note = f"fitted per shot, {time.perf_counter() - started:.1f} s"
            methods.append(Method(name, lambda scan, shot, fitted=fitted: fitted[shot].apply(scan), note))
            log.info("quality: fitted %s on each of %d shots", name, len(shots))
        return methods
    scans, references, masks = _training_pairs(shots)
    for baseline in luma_baselines():
        started = time.perf_counter()
        baseline.fit(scans, references, masks)
        note = f"fit {time.perf_counter() - started:.1f} s, {baseline.params}"
        methods.append(Method(baseline.name, lambda scan, _, baseline=baseline: baseline.apply(scan), note))
        log.info("quality: fitted %s", baseline.name)
    return methods


def chromaluma_row_name(kind: str, minutes: float, density: str | None) -> str:
    """A Chromaluma row's label: kind, density mode (chroma), training budget."""
    series = f"Chromaluma {kind}" + {"smooth": " + smooth density", "keep": " (density keep)"}.get(density or "", "")
    return f"{series}, {minutes:g} min CPU training"


def fit_methods(kind: str, shots: Sequence[ShotPairs], trainer: ChromalumaTrainer,
                runs: Sequence[tuple[float, str | None]], variant: str = "") -> list[Method]:
    """Every method of one table fitted on the shots' training pairs (input first, Chromaluma last).

    `runs` are Chromaluma's models: (CPU minutes, density mode, None for luma). `variant` names the table's
    situation (`graded`, `ungraded`): the input row's label, and Chromaluma's own training pairs and run folders,
    which differ per situation. Chromaluma trains one model on all shots' pairs.
    """
    label = {"graded": "faded scan, density graded (input)", "ungraded": "faded scan, ungraded (input)"}.get(
        variant, "faded scan (input)" if kind == "chroma" else "duplicate negative scan (input)")
    methods = [Method(label, lambda scan, _: scan[..., :3]), *fit_baselines(kind, shots)]
    for budget, density in runs:
        name = chromaluma_row_name(kind, budget, density)
        try:
            model = trainer.train(kind, shots, budget, variant, density)
            methods.append(Method(name, lambda scan, _, model=model: model.restore(scan), model.note))
        except TrainingUnavailable as exc:
            log.warning("quality: %s not measured: %s", name, exc)
            methods.append(Method(name, None, f"not measured: {exc}"))
    return methods


@dataclass
class InformativeRow:
    """A row computed without training, to show what is reachable: from the scan, the reference and the truth."""

    name: str
    compute: Reachable


def informative_rows(chroma_only_floor: str) -> list[InformativeRow]:
    """The colour tables' reference rows: the DVD itself, the chroma-only floor, the smooth-density floor."""
    return [InformativeRow(DVD_ROW, lambda scan, reference, truth, mask: reference[..., :3]),
            InformativeRow(chroma_only_floor, lambda scan, reference, truth, mask: chroma_floor(scan, truth)),
            InformativeRow(SMOOTH_FLOOR, smooth_density_floor)]


def score_methods(methods: Sequence[Method], shots: Sequence[ShotPairs],
                  informative: Sequence[InformativeRow] = ()) -> list[Scores]:
    """Each method's scores on the held-out frames, with the `informative` rows (no training) before
    Chromaluma's rows."""
    rows = []
    for method in methods:
        if method.name.startswith("Chromaluma") and informative and not any(
                r.method == informative[0].name for r in rows):
            rows += [_score(shots, row.name, _informative_frame(row)) for row in informative]
        restore = method.restore
        frame = None if restore is None else (lambda shot, number, index, restore=restore:
                                              restore(shot.scans[index], number))
        rows.append(_score(shots, method.name, frame, method.note))
        log.info("quality: scored %s", method.name)
    return rows


FrameResult = Callable[["ShotPairs", int, int], np.ndarray]  # (shot, shot number, frame index) → result frame


def _informative_frame(row: InformativeRow) -> FrameResult:
    return lambda shot, number, index: row.compute(shot.scans[index], shot.references[index], shot.truth[index],
                                                   shot.mask)


def _score(shots: Sequence[ShotPairs], name: str, frame: FrameResult | None, note: str = "") -> Scores:
    scores = Scores(name, note=note)
    if frame is None:
        return scores
    for number, shot in enumerate(shots):
        for index in range(len(shot.truth))[shot.test]:
            scores.add(frame(shot, number, index), shot.truth[index], shot.mask)
    return scores


def chroma_flicker(frames: Sequence[np.ndarray], mask: np.ndarray) -> float:
    """Frame-to-frame chroma flicker: mean distance between consecutive frames' mean CIELAB (a*, b*)."""
    from skimage.color import rgb2lab

    valid = mask > 0.5
    means = np.array([rgb2lab(np.clip(f[..., :3], 0, 1))[valid][:, 1:].mean(axis=0) for f in frames])
    return float(np.linalg.norm(np.diff(means, axis=0), axis=1).mean()) if len(means) > 1 else 0.0


def temporal_rows(static: ShotPairs, methods: Sequence[Method]) -> list[list[object]]:
    """Flicker of every method's output on a static-camera shot, next to the ground truth's own."""
    rows: list[list[object]] = [["ground truth", chroma_flicker(static.truth, static.mask), 0.0, ""]]
    for method in methods:
        if method.restore is None:
            rows.append([method.name, "—", "—", method.note])
            continue
        outputs = [method.restore(scan, 0) for scan in static.scans]
        distance = float(np.mean([delta_e2000(o, t, static.mask).mean for o, t in zip(outputs, static.truth,
                                                                                       strict=True)]))
        rows.append([method.name, chroma_flicker(outputs, static.mask), distance, method.note])
    return rows


# The chroma shots fade unevenly (uneven=1: faded edges, blotches, drift along the shot), see synth.uneven.
CHROMA_DEGRADATION = Degradation(fade=0.6, generations=1, damage=0.2, seed=100, uneven=1.0)
LUMA_DEGRADATION = Degradation(fade=0.0, generations=2, damage=0.5, seed=200, stock="35mm")
STATIC_DEGRADATION = Degradation(fade=0.6, generations=1, damage=0.6, seed=300, uneven=1.0)
GRADED_FLOOR = "truth chroma on the graded scan's luma (chroma-only floor)"
UNGRADED_FLOOR = "truth chroma on the scan's luma (chroma-only floor)"
DVD_ROW = "DVD reference itself (held-out frames)"
SMOOTH_FLOOR = "truth chroma + smooth density from the reference (floor for smooth density)"


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """The quality area of `make bench`: colour tables (graded, ungraded), luma table, temporal stability, plots."""
    from chromaluma.benchmarks.quality_report import chroma_section, luma_section, temporal_section

    workdir.mkdir(parents=True, exist_ok=True)
    plan = QualityPlan.quick() if quick else QualityPlan.full()
    trainer = ChromalumaTrainer(workdir, quick)
    chroma_shots = build_shots(plan, CHROMA_DEGRADATION, "dvd")
    graded_shots = grade_shots(chroma_shots)
    graded_methods = fit_methods("chroma", graded_shots, trainer, plan.chroma_runs, "graded")
    graded_rows = score_methods(graded_methods, graded_shots, informative_rows(GRADED_FLOOR))
    del graded_shots
    ungraded_methods = fit_methods("chroma", chroma_shots, trainer, plan.ungraded_runs, "ungraded")
    ungraded_rows = score_methods(ungraded_methods, chroma_shots, informative_rows(UNGRADED_FLOOR))
    del chroma_shots, ungraded_methods
    static = grade_shots([static_shot(plan, STATIC_DEGRADATION)])[0]
    flicker = temporal_rows(static, temporal_methods(static, graded_methods))
    del static
    luma_shots = build_shots(plan, LUMA_DEGRADATION, "print")
    luma_rows = score_methods(fit_methods("luma", luma_shots, trainer, ((plan.luma_minutes, None),)), luma_shots)
    return [chroma_section(graded_rows, plan, workdir, graded=True),
            chroma_section(ungraded_rows, plan, workdir, graded=False),
            luma_section(luma_rows, plan, workdir), temporal_section(flicker, plan)]
