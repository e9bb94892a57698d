"""Keyframe benchmark: how well is colour carried from a few painted keyframes through a shot, and how far?

Shots made from clean colour footage (public-domain photographs under a locked-off, panning, zooming and handheld
camera) are decolourised to their Rec.709 luma: the grey scan of a black-and-white original. One frame every 24
is kept as the restorer's painting (the truth at that frame). Every method — the grey input, the keyframe's colour
held in place, the classical baseline (optical flow + guided filter, :mod:`chromaluma.keyframe_baseline`), today's
per-frame chroma model trained on the keyframe pairs and the keyframe kind after 1 and 5 CPU minutes — is scored
by distance from its keyframe (one-sided renders: only the keyframe at k given, frames k ± d scored, ΔE2000 mean
and p95) and over its normal render of every frame with both neighbouring keyframes (colourfulness, flicker,
drift, and the locked-off shot's shift from its keyframe's colour). Then the keyframe model's 2K render time.

`KeyframePlan.full` takes about 15 minutes on 2 cores (8 of them training); `KeyframePlan.quick` trains a few
steps on tiny frames for a smoke test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from chromaluma.benchmarks import BenchSection
from chromaluma.benchmarks.keyframes_plan import (
    BASELINE_ROW,
    FARNEBACK_ROW,
    GREY_ROW,
    HELD_ROW,
    LOCKED_OFF,
    PER_FRAME_ROW,
    TRUTH_ROW,
    KeyframePlan,
    KeyframeShot,
    MethodScore,
    keyframe_row,
)
from chromaluma.benchmarks.keyframes_report import RenderCost, keyframes_section
from chromaluma.benchmarks.keyframes_training import KeyframeTrainer, render, render_ms, write_reel
from chromaluma.benchmarks.quality_training import TrainingUnavailable
from chromaluma.benchmarks.render_timing import WARM_UP_FRAMES
from chromaluma.benchmarks.temporal_training import TemporalModel, untrained_model
from chromaluma.keyframe_baseline import FlowPropagation, colour_differences, luma_of, rgb_from_luma_chroma
from chromaluma.metrics import delta_e2000, mean_chroma, stability_of_means
from chromaluma.synth.shots import CameraMove, handheld_shot, photo_shot

log = logging.getLogger(__name__)

# (shot, frame index, its keyframe pair's indices) → the method's output for that frame
Renderer = Callable[[KeyframeShot, int, tuple[int, int]], np.ndarray]


def colourfulness(frame: np.ndarray) -> float:
    """Hasler and Süsstrunk's (2003) colourfulness of an RGB frame (0–255 scale): σ_rgyb + 0.3·μ_rgyb of the
    opponent planes rg = R − G and yb = (R + G)/2 − B; 0 for a grey frame."""
    rgb = np.clip(frame[..., :3].astype(np.float64), 0.0, 1.0) * 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def grey(frame: np.ndarray) -> np.ndarray:
    """A decolourised frame: its Rec.709 luma in R, G and B."""
    return np.repeat(luma_of(frame)[..., None], 3, axis=-1).astype(np.float32)


def build_shots(plan: KeyframePlan) -> list[KeyframeShot]:
    """The plan's shots: clean truth, grey scan, painted keyframe indices."""
    shots = []
    for seed, (label, photo, move) in enumerate(plan.shots):
        if move == "handheld":
            truth = handheld_shot(photo, plan.frames, plan.width, plan.height, seed=seed)
        else:
            truth = photo_shot(photo, plan.frames, plan.width, plan.height, CameraMove(move), seed=seed)
        shots.append(KeyframeShot(label, truth, [grey(frame) for frame in truth], plan.keyframe_indices()))
    log.info("keyframes: built %d shots of %d frames at %dx%d", len(shots), plan.frames, plan.width, plan.height)
    return shots


def _nearness(index: int, pair: tuple[int, int]) -> list[int]:
    return [index - pair[0], index - pair[1]]


def held_in_place(shot: KeyframeShot, index: int, pair: tuple[int, int]) -> np.ndarray:
    """The keyframes' Cb, Cr copied onto the frame's luma where they stand (nearer keyframe weighted more)."""
    weights = [1.0 / (1.0 + abs(d)) for d in _nearness(index, pair)]
    chroma = sum(w * colour_differences(shot.truth[k]) for w, k in zip(weights, pair, strict=True)) / sum(weights)
    return rgb_from_luma_chroma(luma_of(shot.scans[index]), chroma)


def classical(flow: str) -> Renderer:
    def renderer(shot: KeyframeShot, index: int, pair: tuple[int, int]) -> np.ndarray:
        keyframes = [shot.truth[pair[0]], shot.truth[pair[1]]]
        return FlowPropagation(flow=flow).propagate(shot.scans[index], keyframes, _nearness(index, pair))

    return renderer


def per_frame(model: TemporalModel) -> Renderer:
    return lambda shot, index, _: render(model.path, shot.scans[index])


def with_keyframes(model: TemporalModel) -> Renderer:
    return lambda shot, index, pair: render(model.path, shot.scans[index], [shot.truth[pair[0]], shot.truth[pair[1]]])


def score_one_sided(score: MethodScore, renderer: Renderer, shots: Sequence[KeyframeShot],
                    distances: Sequence[int]) -> None:
    """ΔE2000 of frames k ± d rendered from the keyframe at k alone, for every keyframe k of every shot."""
    for shot in shots:
        for key in shot.keyframes:
            for distance in distances:
                for index in sorted({key + distance, key - distance}):
                    if 0 <= index < len(shot.truth):
                        result = delta_e2000(renderer(shot, index, (key, key)), shot.truth[index])
                        score.delta_e.setdefault(distance, []).append(result.mean)
                        score.delta_e_p95.setdefault(distance, []).append(result.p95)


def score_normal_render(score: MethodScore, renderer: Renderer, shots: Sequence[KeyframeShot],
                        truth_means: Sequence[np.ndarray]) -> None:
    """Every frame with its keyframe pair: colourfulness, flicker and drift against the truth, and on the
    locked-off shot the largest distance of a frame's mean a*b* from its (earlier) keyframe's."""
    for shot, truth in zip(shots, truth_means, strict=True):
        pairs = [shot.pair_for(index) for index in range(len(shot.truth))]
        outputs = [renderer(shot, index, pair) for index, pair in enumerate(pairs)]
        means = mean_chroma(outputs)
        flicker, drift = stability_of_means(means - truth)
        score.flicker.append(flicker)
        score.drift.append(drift)
        score.colourfulness.extend(colourfulness(frame) for frame in outputs)
        if shot.label == LOCKED_OFF:
            shifts = [np.linalg.norm(means[index] - truth[pair[0]]) for index, pair in enumerate(pairs)]
            score.locked_off_shift = float(max(shifts))


def score_method(name: str, renderer: Renderer | None, shots: Sequence[KeyframeShot], plan: KeyframePlan,
                 truth_means: Sequence[np.ndarray], note: str = "") -> MethodScore:
    """One method's row; a method that cannot render (not trained, or its render fails) is a row with the reason."""
    score = MethodScore(name, note=note)
    if renderer is None:
        return score
    try:
        score_one_sided(score, renderer, shots, plan.distances)
        score_normal_render(score, renderer, shots, truth_means)
    except Exception as exc:  # noqa: BLE001 — one method's failure is its row's note; the other rows still run
        log.error("keyframes: %s failed: %s", name, exc)
        return MethodScore(name, note=f"not measured: {str(exc).splitlines()[0][:200]}")
    log.info("keyframes: scored %s", name)
    return score


def trained_methods(trainer: KeyframeTrainer, plan: KeyframePlan, reel: tuple[Path, Path, Path]
                    ) -> tuple[list[tuple[str, Renderer | None, str]], TemporalModel | None]:
    """The per-frame model's and the keyframe models' rows (a renderer, or None and why), and the first keyframe
    model (for the render time)."""
    scan, keyframes, pairs = reel
    methods: list[tuple[str, Renderer | None, str]] = []
    try:
        model = trainer.per_frame(pairs, plan.per_frame_minutes)
        methods.append((PER_FRAME_ROW, per_frame(model), model.note))
    except TrainingUnavailable as exc:
        log.warning("keyframes: %s not measured: %s", PER_FRAME_ROW, exc)
        methods.append((PER_FRAME_ROW, None, f"not measured: {exc}"))
    first = None
    for minutes in plan.keyframe_minutes:
        try:
            model = trainer.keyframe_model(scan, keyframes, minutes)
        except TrainingUnavailable as exc:
            log.warning("keyframes: %s not measured: %s", keyframe_row(minutes), exc)
            methods.append((keyframe_row(minutes), None, f"not measured: {exc}"))
            continue
        first = first or model
        methods.append((keyframe_row(minutes), with_keyframes(model), model.note))
    return methods, first


def render_cost(model: TemporalModel | None, plan: KeyframePlan, workdir: Path) -> RenderCost:
    """A keyframe model's process() ms/frame at the plan's cost size (the trained one, else an untrained one of the
    shipped architecture: speed does not depend on what was learnt), or why it was not measured."""
    width, height = plan.cost_size
    try:
        path = model.path if model is not None else untrained_model(workdir, "keyframes", 0)
        ms = render_ms(path, width, height, plan.cost_frames)
    except Exception as exc:  # noqa: BLE001 — a failed timing is reported, the table still stands
        return RenderCost(None, str(exc).splitlines()[0][:200])
    return RenderCost(ms, f"median of {plan.cost_frames} after {WARM_UP_FRAMES} warm-up frames, "
                          + (f"model {path.name}" if model is not None else "untrained model of the shipped size"))


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """The keyframes area of `make bench`: every method by distance from its keyframe, its stability, the goals."""
    workdir.mkdir(parents=True, exist_ok=True)
    plan = KeyframePlan.quick() if quick else KeyframePlan.full()
    shots = build_shots(plan)
    trainer = KeyframeTrainer(workdir, quick)
    ours, first = trained_methods(trainer, plan, write_reel(workdir / "reel", shots))
    truth_means = [mean_chroma(shot.truth) for shot in shots]
    methods: list[tuple[str, Renderer | None, str]] = [
        (TRUTH_ROW, lambda shot, index, _: shot.truth[index], ""),
        (GREY_ROW, lambda shot, index, _: shot.scans[index], ""),
        (HELD_ROW, held_in_place, "the keyframe's Cb, Cr on the frame's luma"),
        (BASELINE_ROW, classical("dis"), "DIS flow, as the keyframe kind's backend moves keyframes"),
        (FARNEBACK_ROW, classical("farneback"), ""),
        *ours]
    scores = [score_method(name, renderer, shots, plan, truth_means, note) for name, renderer, note in methods]
    return [keyframes_section(scores, plan, render_cost(first, plan, workdir))]
