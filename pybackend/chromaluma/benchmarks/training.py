"""Training benchmarks: steps/s per kind at crop 256 batch 8, time for a chroma model to reach ΔE2000 < 3 on held-out
frames of a synthetically faded shot (20 pairs of 1280×720), the exported graphs' 2K speed in ONNX Runtime, and
steps/s and samples/s of a chroma step on 1 and 2 processes (DistributedDataParallel, gloo)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from chromaluma.benchmarks import BenchSection, markdown_table
from chromaluma.contract import KINDS
from chromaluma.io import FrameFormat, write_frame
from chromaluma.models import DEFAULT_PROCESSING_SCALE, build_model

log = logging.getLogger(__name__)

TARGET_DELTA_E = 3.0
GOAL_MINUTES = 5.0


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    return [training_speed(quick), time_to_target(workdir, quick), exported_speed(workdir, quick),
            distributed_speed(quick)]


def training_speed(quick: bool) -> BenchSection:
    """Optimizer steps per second on random crops (no I/O), per kind, on this machine's CPU."""
    from chromaluma.host_memory import reuse_freed_memory
    from chromaluma.train.objective import keyframe_training_terms, repair_training_terms, training_loss

    crop, batch, steps = (64, 2, 3) if quick else (256, 8, 20)
    rows, raw = [], {}
    for kind in KINDS:
        torch.manual_seed(0)
        model = build_model(kind, DEFAULT_PROCESSING_SCALE[kind])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        scan, reference = torch.rand(batch, crop, crop, 4), torch.rand(batch, crop, crop, 3)
        valid = torch.ones(batch, crop, crop)
        keyframes = torch.rand(batch, 2, crop, crop, 4)  # read by the keyframe kind only
        window = torch.rand(batch, 5, crop, crop, 4)  # read by the repair kind only (radius 2, its default)
        damage = (torch.rand(batch, crop, crop) > 0.99).float()
        timings = []
        with reuse_freed_memory():  # as `chromaluma train` runs its steps
            for _ in range(steps + 2):
                started = time.perf_counter()
                optimizer.zero_grad()
                if kind == "keyframes":
                    loss = keyframe_training_terms(model, scan, keyframes, reference, valid)[0]
                elif kind == "repair":
                    loss = repair_training_terms(model, window, reference, damage, torch.zeros_like(damage))[0]
                else:
                    loss = training_loss(kind, model, scan, reference, valid)
                loss.backward()
                optimizer.step()
                timings.append(time.perf_counter() - started)
        per_step = float(np.median(timings[2:]))
        rows.append([kind, f"{crop}×{crop}", batch, 1.0 / per_step, per_step * 1000.0])
        raw[kind] = {"steps_per_s": 1.0 / per_step, "crop": crop, "batch": batch}
    table = markdown_table(["kind", "crop", "batch", "steps/s", "ms/step"], rows)
    notes = [f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; median of {steps} steps after 2 "
             "warm-up steps, random crops (pair loading not included)."]
    return BenchSection("Training speed (CPU)", table, notes, raw=raw)


def _faded_shot(frames: int, width: int, height: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Clean reference frames (a slow pan over a public-domain photograph) and the same frames dye-faded."""
    from chromaluma.synth.fading import fade_dyes, fade_for_shot
    from chromaluma.synth.shots import photo_shot

    references = photo_shot("chelsea", frames, width=width, height=height, seed=3)
    fade = fade_for_shot(0.6, seed=3)
    return [fade_dyes(frame, fade) for frame in references], references


def time_to_target(workdir: Path, quick: bool) -> BenchSection:
    """Train a chroma model on a faded shot for up to GOAL_MINUTES; report when held-out ΔE2000 first fell below 3."""
    from chromaluma.metrics import delta_e2000
    from chromaluma.train import TrainConfig, train
    from chromaluma.train.checkpoint import load_latest
    from chromaluma.train.objective import colour_truth

    frames, width, height, minutes = (4, 96, 64, 0.05) if quick else (20, 1280, 720, GOAL_MINUTES)
    scans, references = _faded_shot(frames, width, height)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = workdir / f"training-{stamp}"
    frame_format = FrameFormat(".png", "uint16", 16, 3)
    for folder, shot in (("scan", scans), ("reference", references)):
        (root / folder).mkdir(parents=True)
        for index, frame in enumerate(shot):
            write_frame(root / folder / f"{folder}.{1001 + index}.png", frame, frame_format)
    config = TrainConfig(run_dir=root / "run", kind="chroma", input=root / "scan", target=root / "reference",
                         minutes=minutes, val_frames=2 if not quick else 1, val_every=10 if quick else 25,
                         preview_every=10**6, checkpoint_every=10**6, device="cpu",
                         crop=48 if quick else 256, batch=2 if quick else 8, density="keep")
    train(config)
    state = load_latest(root / "run")
    per_step = float(state["elapsed_s"]) / max(1, int(state["step"]))
    curve = [(step, scores["delta_e2000_mean"]) for step, scores in state["validation"]]
    reached = next(((step, step * per_step) for step, value in curve if value < TARGET_DELTA_E), None)
    before = float(np.mean([delta_e2000(s, colour_truth(s, r)).mean for s, r in zip(scans, references, strict=True)]))
    floor = float(np.mean([delta_e2000(colour_truth(s, r), r).mean for s, r in zip(scans, references, strict=True)]))
    final = state["validation"][-1][1] if state["validation"] else {}
    rows = [[f"{frames} × {width}×{height}", f"{before:.2f}", f"{final.get('delta_e2000_mean', float('nan')):.2f}",
             f"{final.get('delta_e2000_reference_mean', float('nan')):.2f} (floor {floor:.2f})",
             int(state["step"]), f"{state['elapsed_s']:.0f} s",
             f"step {reached[0]}, ≈ {reached[1]:.0f} s" if reached else f"not within {minutes:g} min"]]
    table = markdown_table(["pairs", "scan colour ΔE2000", "held-out colour ΔE2000", "held-out ΔE2000 vs reference",
                            "steps", "trained", f"colour ΔE2000 < {TARGET_DELTA_E:g}"], rows)
    notes = ["Shot: slow pan over skimage 'chelsea' (CC0), dye fade strength 0.6 (chromaluma.synth.fading); the "
             "reference is the unfaded frame. Validation every 25 steps on 2 held-out frames (time includes it).",
             "Colour ΔE2000 compares with the reference's colour on the scan's luma: a chroma model keeps the scan's "
             "luma (density) by design, so its ΔE2000 against the reference itself cannot fall below the 'floor' "
             "(the fade's density change, same measure for a perfect chroma restoration).",
             f"Goal: held-out colour ΔE2000 < {TARGET_DELTA_E:g} within {GOAL_MINUTES:g} minutes on 2 CPU cores."]
    raw = {"curve": curve, "reached": reached, "steps": int(state["step"]), "elapsed_s": float(state["elapsed_s"]),
           "scan_delta_e": before, "reference_floor_delta_e": floor, "final": final}
    return BenchSection("Chroma model: time to colour ΔE2000 < 3 on held-out frames", table, notes, raw=raw)


def exported_speed(workdir: Path, quick: bool) -> BenchSection:
    """Seconds per 2K frame (2048×1556) of each kind's exported graph in ONNX Runtime on the CPU."""
    import onnxruntime as ort

    from chromaluma.card import build_card
    from chromaluma.export import export_model

    height, width = (96, 128) if quick else (1556, 2048)
    rows, raw = [], {}
    frame = np.random.default_rng(0).random((1, height, width, 4), dtype=np.float32)
    for kind in KINDS:
        card = build_card(kind, "display", {"pairs": []}, {"validation": {}}, opset=17, model_details={})
        path = export_model(build_model(kind, DEFAULT_PROCESSING_SCALE[kind]), workdir / f"speed-{kind}.onnx",
                            "display", card)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {"image": frame}
        if kind == "keyframes":  # its two keyframes: the frame itself twice
            feeds["keyframes"] = np.concatenate([frame, frame])
        if kind == "repair":  # its window of two frames each side: the frame itself four times
            feeds["neighbours"] = np.concatenate([frame] * 4)
        session.run(None, feeds)
        timings = []
        for _ in range(3 if quick else 8):
            started = time.perf_counter()
            session.run(None, feeds)
            timings.append(time.perf_counter() - started)
        best, median = min(timings), float(np.median(timings))
        rows.append([kind, f"{width}×{height}", median, 1.0 / median, best])
        raw[kind] = {"median_s": median, "best_s": best}
    table = markdown_table(["kind", "frame", "s/frame (median)", "fps", "s/frame (best)"], rows)
    notes = ["Whole exported graph (colour transforms, grid network, guided upsampling, confidence) in ONNX Runtime "
             "with default session options, one frame at a time; budgets: chroma ≥ 8 fps, luma ≤ 1 s per 2K frame."]
    return BenchSection("Exported model speed (ONNX Runtime, CPU)", table, notes, raw=raw)


def distributed_speed(quick: bool, processes: tuple[int, ...] = (1, 2)) -> BenchSection:
    """Optimizer steps and crops per second of a chroma step on N processes of this machine (DDP over gloo), each
    process taking --batch crops: launched as `chromaluma train --nproc N` launches its ranks (CPU threads shared
    out among them), on random crops (no I/O)."""
    from chromaluma.train.distributed import launch_local

    crop, batch, steps = (48, 2, 4) if quick else (256, 8, 20)
    rows, raw = [], {}
    for nproc in processes:
        per_step = launch_local(nproc, _rank_step_time, (crop, batch, steps), verbose=False, resume_hint="")
        steps_per_s = 1.0 / per_step
        rows.append([nproc, f"{crop}×{crop}", batch, nproc * batch, steps_per_s, steps_per_s * nproc * batch])
        raw[str(nproc)] = {"steps_per_s": steps_per_s, "samples_per_s": steps_per_s * nproc * batch, "crop": crop,
                           "batch_per_process": batch}
    table = markdown_table(["processes", "crop", "batch per process", "crops per step", "steps/s", "samples/s"], rows)
    notes = [f"torch {torch.__version__}, chroma kind, CPU, {os.cpu_count()} logical cores shared out among the "
             f"processes; rank 0's median of {steps} steps after 2 warm-up steps, gradients averaged over the "
             "processes (DistributedDataParallel, gloo); random crops, pair loading not included."]
    return BenchSection("Training on several processes (CPU, gloo)", table, notes, raw=raw)


def _rank_step_time(crop: int, batch: int, steps: int) -> float:
    """One rank of :func:`distributed_speed`: the median seconds per optimizer step (every rank steps together)."""
    from chromaluma.host_memory import reuse_freed_memory
    from chromaluma.train.distributed import TrainingObjective, data_parallel, join_world, leave_world
    from chromaluma.train.objective import training_terms

    world, device = join_world("cpu")
    try:
        torch.manual_seed(0)
        model = build_model("chroma", DEFAULT_PROCESSING_SCALE["chroma"])
        step = data_parallel(TrainingObjective(model, lambda m, *b: training_terms("chroma", m, *b)), world,
                             device or torch.device("cpu"))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(world.rank)
        scan, reference = torch.rand(batch, crop, crop, 4, generator=generator), torch.rand(batch, crop, crop, 3)
        valid = torch.ones(batch, crop, crop)
        timings = []
        with reuse_freed_memory():
            for _ in range(steps + 2):
                started = time.perf_counter()
                optimizer.zero_grad()
                loss, _ = step(scan, reference, valid)
                loss.backward()
                optimizer.step()
                timings.append(time.perf_counter() - started)
        return float(np.median(timings[2:]))
    finally:
        leave_world()
