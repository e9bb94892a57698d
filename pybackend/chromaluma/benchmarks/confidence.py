"""The `confidence` area of `make bench`: does a model's confidence mark where its error is high?

For every model kind (chroma, pairs, luma, keyframes, repair) a model is trained on the shots the kind's own
benchmark area makes (quality, keyframes, repair: the same plans, photographs, degradations and seeds), then each
held-out frame is rendered through :func:`chromaluma.api.process_frame` (the path `chromaluma apply --confidence`
takes) and every pixel's confidence set against its measured error: the mean over R, G, B of |result − clean truth|
(0–1 units). The numbers (:mod:`~chromaluma.benchmarks.confidence_measure`): AUROC of "error above the median" by
1 − confidence, mean error by confidence decile, the mean error the confidence predicts against the one measured,
and how much the confidence plane shows the model's grid (lattice ratio, 1 = none).

`quick=True` trains `steps` steps (default 2) on the quick plans' tiny frames; the full run trains each kind for
the minutes in :data:`FULL_MINUTES` (about 25 CPU minutes in all, plus rendering).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.benchmarks import BenchSection, markdown_table
from chromaluma.benchmarks.confidence_measure import VISIBLE_ERROR, ConfidenceSample
from chromaluma.errors import ChromalumaError

log = logging.getLogger(__name__)

KINDS = ("chroma", "pairs", "luma", "keyframes", "repair")
FULL_MINUTES = {"chroma": 5.0, "pairs": 5.0, "luma": 5.0, "keyframes": 5.0, "repair": 5.0}
QUICK_STEPS = 2
QUICK_BUDGET = {"crop": 64, "batch": 1, "preview_every": 10**6}
MAX_PIXELS_PER_FRAME = 50_000  # each frame's pixels are taken at a stride that keeps at most this many

# one held-out frame: (the scan RGB, process_frame params beyond the model, the clean truth RGB, valid pixels or None)
HeldOutFrame = tuple[np.ndarray, dict[str, Any], np.ndarray, np.ndarray | None]


@dataclass(frozen=True)
class KindResult:
    """One kind's row: its sample's summary, or why it was not measured."""

    kind: str
    summary: dict[str, object]
    note: str


def run(workdir: Path, quick: bool, steps: int | None = None, kinds: tuple[str, ...] | None = None
        ) -> list[BenchSection]:
    """The confidence area: one model per kind in `kinds` (default KINDS), scored on held-out frames; `steps`
    trains that many steps instead of the full run's minutes (a quick run: QUICK_STEPS)."""
    workdir.mkdir(parents=True, exist_ok=True)
    budget_steps = steps if steps is not None else (QUICK_STEPS if quick else None)
    results = []
    for kind in kinds or KINDS:
        folder = workdir / kind
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        results.append(measure_kind(kind, folder, quick, budget_steps))
    return sections(results, quick, budget_steps)


def measure_kind(kind: str, folder: Path, quick: bool, steps: int | None) -> KindResult:
    """Train `kind`'s model and score its confidence; a kind that cannot train or render is a row with the reason."""
    started = time.perf_counter()
    try:
        model, frames, factor = _SOURCES[kind](folder, quick, steps)
        sample = ConfidenceSample()
        for scan, params, truth, valid in frames:
            confidence, error = render_error(model, scan, params, truth)
            sample.add(confidence, error, valid, factor, _stride(confidence.size))
    except ChromalumaError as exc:
        log.error("confidence: %s not measured: %s", kind, exc)
        return KindResult(kind, {}, f"not measured: {str(exc).splitlines()[0][:200]}")
    note = _model_note(model) + f"; trained and scored in {time.perf_counter() - started:.0f} s"
    log.info("confidence: %s measured (%s)", kind, note)
    return KindResult(kind, sample.summary(), note)


def render_error(model: Path, scan: np.ndarray, params: dict[str, Any], truth: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(confidence (H, W), error (H, W)) of one frame rendered through process_frame."""
    from chromaluma.api import process_frame

    rgb = np.ascontiguousarray(scan[..., :3], dtype=np.float32)
    out = np.empty_like(rgb)
    confidence = np.empty(rgb.shape[:2], np.float32)
    process_frame(rgb, out, {"model": str(model), **params}, confidence=confidence)
    return confidence, np.abs(out - truth[..., :3]).mean(axis=-1)


def _stride(pixels: int) -> int:
    return max(1, -(-pixels // MAX_PIXELS_PER_FRAME))


def _model_note(model: Path) -> str:
    from chromaluma.contract import read_model_contract

    training = read_model_contract(model).card.get("training", {})
    steps = training.get("parameters", {}).get("steps_done")
    return f"{steps} steps in {float(training.get('duration_s') or 0.0) / 60:.1f} min"


def train_model(folder: Path, kind: str, quick: bool, steps: int | None, data: dict[str, Any]) -> Path:
    """`chromaluma train` of `kind` on `data` (pairs_dir, or input and keyframes) for `steps` or FULL_MINUTES, CPU;
    TrainingUnavailable (a ChromalumaError) with the reason if it cannot."""
    from chromaluma.benchmarks.quality_training import TrainingUnavailable

    try:
        from chromaluma.train import TrainConfig, train
    except ImportError as exc:
        raise TrainingUnavailable(f"chromaluma.train not importable ({exc})") from exc
    budget: dict[str, Any] = {"steps": steps} if steps is not None else {"minutes": FULL_MINUTES[kind]}
    if quick:
        budget.update(QUICK_BUDGET)
    run_dir = folder / f"run-{kind}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    try:
        config = TrainConfig(run_dir=run_dir, kind=kind, out=folder / f"{kind}.onnx", device="cpu", seed=0, **budget,
                             **data)
        return Path(train(config, progress=False))
    except ChromalumaError as exc:
        raise TrainingUnavailable(f"training failed: {str(exc).splitlines()[0]}") from exc


Source = Callable[[Path, bool, int | None], tuple[Path, Iterator[HeldOutFrame], int]]


def _quality_source(kind: str) -> Source:
    """chroma and pairs on the quality area's colour shots (DVD reference), luma on its detail shots (print)."""
    def source(folder: Path, quick: bool, steps: int | None) -> tuple[Path, Iterator[HeldOutFrame], int]:
        from chromaluma.benchmarks.quality import CHROMA_DEGRADATION, LUMA_DEGRADATION, build_shots
        from chromaluma.benchmarks.quality_plan import QualityPlan
        from chromaluma.benchmarks.quality_training import ChromalumaTrainer
        from chromaluma.models import DEFAULT_PROCESSING_SCALE
        from chromaluma.models.blocks import grid_factor

        plan = QualityPlan.quick() if quick else QualityPlan.full()
        luma = kind == "luma"
        shots = build_shots(plan, LUMA_DEGRADATION if luma else CHROMA_DEGRADATION, "print" if luma else "dvd")
        pairs = ChromalumaTrainer(folder, quick).pairs_folder(kind, shots)
        model = train_model(folder, kind, quick, steps, {"pairs_dir": pairs})
        frames = ((shot.scans[i], {}, shot.truth[i], shot.mask > 0.5)
                  for shot in shots for i in range(len(shot.truth))[shot.test])
        return model, frames, grid_factor(DEFAULT_PROCESSING_SCALE[kind])

    return source


def _keyframes_source(folder: Path, quick: bool, steps: int | None) -> tuple[Path, Iterator[HeldOutFrame], int]:
    """The keyframes area's grey shots and painted keyframes; held out: every frame that is not a keyframe."""
    from chromaluma.benchmarks.keyframes import build_shots
    from chromaluma.benchmarks.keyframes_plan import KeyframePlan
    from chromaluma.benchmarks.keyframes_training import write_reel
    from chromaluma.models import DEFAULT_PROCESSING_SCALE
    from chromaluma.models.blocks import grid_factor

    plan = KeyframePlan.quick() if quick else KeyframePlan.full()
    shots = build_shots(plan)
    scan, keyframes, _ = write_reel(folder / "reel", shots)
    model = train_model(folder, "keyframes", quick, steps, {"input": scan, "keyframes": keyframes})
    frames = ((shot.scans[i], {"keyframes": [np.ascontiguousarray(shot.truth[k][..., :3], np.float32)
                                             for k in shot.pair_for(i)]}, shot.truth[i], None)
              for shot in shots for i in range(len(shot.truth)) if i not in shot.keyframes)
    return model, frames, grid_factor(DEFAULT_PROCESSING_SCALE["keyframes"])


def _repair_source(folder: Path, quick: bool, steps: int | None) -> tuple[Path, Iterator[HeldOutFrame], int]:
    """The repair area's training shot and held-out damaged shots; the error is the delivered frame's (repaired
    where the matte passed the benchmark's sensitivity, the scan elsewhere) against the clean frame."""
    from chromaluma.benchmarks.repair import held_out_shots, training_shot
    from chromaluma.benchmarks.repair_plan import SENSITIVITY, RepairPlan
    from chromaluma.benchmarks.repair_training import write_scan
    from chromaluma.contract import read_model_contract

    plan = RepairPlan.quick() if quick else RepairPlan.full()
    scan = write_scan(folder / "scan", training_shot(plan).damaged)
    model = train_model(folder, "repair", quick, steps, {"input": scan})
    contract = read_model_contract(model)
    offsets = [k for k in range(-contract.frames_before, contract.frames_after + 1) if k != 0]

    def frames() -> Iterator[HeldOutFrame]:
        for shot in held_out_shots(plan):
            for index, damaged in enumerate(shot.damaged):
                neighbours = [np.ascontiguousarray(shot.damaged[index + k][..., :3], np.float32)
                              if 0 <= index + k < len(shot.damaged) else None for k in offsets]
                params = {"sensitivity": SENSITIVITY, **({"neighbours": neighbours} if offsets else {})}
                yield damaged, params, shot.clean[index], None

    return model, frames(), 1


_SOURCES: dict[str, Source] = {"chroma": _quality_source("chroma"), "pairs": _quality_source("pairs"),
                               "luma": _quality_source("luma"), "keyframes": _keyframes_source,
                               "repair": _repair_source}


def sections(results: list[KindResult], quick: bool, steps: int | None) -> list[BenchSection]:
    """The area's two tables: how well confidence ranks error per kind, and mean error by confidence decile."""
    header = ["kind", "held-out frames", "pixels", "AUROC (error > median)", f"AUROC (error > {VISIBLE_ERROR:g})",
              "visible error: share of pixels / in least confident 10 %", "mean error, least confident 10 %",
              "mean error, most confident 10 %", "mean error predicted / measured", "lattice ratio", "model"]
    rows: list[list[object]] = []
    for result in results:
        s = result.summary
        if not s.get("pixels"):
            rows.append([result.kind, s.get("frames", "—"), 0, "—", "—", "—", "—", "—", "—", "—",
                         result.note or "no pixels"])
            continue
        deciles = s["deciles"]
        lattice = s["lattice_ratio"]
        rows.append([result.kind, s["frames"], s["pixels"], float(s["auroc"]), _share_or_dash(s["auroc_visible"], 1),
                     f"{_share_or_dash(s['visible_share'], 100)} % / {_share_or_dash(s['visible_caught'], 100)} %",
                     deciles[0]["mean_error"],
                     deciles[-1]["mean_error"], f"{s['mean_predicted_error']:.3g} / {s['mean_error']:.3g}",
                     "— (per pixel)" if lattice is None else float(lattice), result.note])
    budget = f"{steps} training steps per kind (smoke run)" if steps is not None else (
        "training minutes per kind: " + ", ".join(f"{k} {m:g}" for k, m in FULL_MINUTES.items()))
    notes = ["AUROC: the chance that a pixel whose error is above the median error has lower confidence than one "
             "below it (ties half). 0.5 = confidence says nothing about error, 1 = it ranks error perfectly.",
             f"Visible error: above {VISIBLE_ERROR:g} (1 % of the range, about 2.5 8-bit code values): where most "
             "error is too small to see, the median splits errors nobody can tell apart; the AUROC of visible error "
             "asks whether low confidence marks the errors a restorer would see, and the last share is how many of "
             "them the least confident tenth holds (a confidence that says nothing: 10 %).",
             "Error: mean over R, G, B of |result − clean truth| (0–1 units) on held-out frames, rendered through "
             "process_frame as `chromaluma apply --confidence` does. Predicted error: sigma = −0.05·ln(confidence), "
             "the mean absolute error the model claims.",
             "Lattice ratio: mean |second difference| of the confidence on its worst grid phase over its mean across "
             "phases (1 = no trace of the processing grid; bilinear upsampling and nearest blocks give 2).",
             f"Shots and held-out frames: those of the quality (chroma, pairs, luma), keyframes and repair areas; "
             f"{budget}."]
    raw = {"kinds": {r.kind: {**r.summary, "note": r.note} for r in results}, "quick": quick, "steps": steps}
    return [BenchSection("Confidence against error", markdown_table(header, rows), notes, raw=raw),
            BenchSection("Mean error by confidence decile", _decile_table(results),
                         ["Decile 1 holds the tenth of the pixels with the lowest confidence. A confidence that "
                          "means something shows error falling from decile 1 to decile 10."])]


def _share_or_dash(value: float, scale: float) -> object:
    """`value` × `scale` (3 significant figures), or "—" where it is not a number (no pixel of that class)."""
    return "—" if value != value else float(f"{value * scale:.3g}")


def _decile_table(results: list[KindResult]) -> str:
    measured = [r for r in results if r.summary.get("pixels")]
    header = ["confidence decile"] + [f"{r.kind}: mean error (confidence)" for r in measured]
    count = max((len(r.summary["deciles"]) for r in measured), default=0)
    rows: list[list[object]] = []
    for index in range(count):
        row: list[object] = [index + 1]
        for r in measured:
            deciles = r.summary["deciles"]
            row.append(f"{deciles[index]['mean_error']:.4f} ({deciles[index]['mean_confidence']:.3f})"
                       if index < len(deciles) else "—")
        rows.append(row)
    return markdown_table(header, rows)
