"""The training loop: a run folder, seeded crops, checkpoints, previews, validation, and the export at the end.

Run folder (`--run-dir`):
    config.json          the settings (TrainConfig), written once
    pairs.json           every pair's files and SHA-256 hashes, and the held-out validation frames
    checkpoints/         step_NNNNNNN.pt, atomic, the newest 3 kept (weights, optimizer, RNG states, history)
    previews/            step_NNNNNNN.png contact sheets: scan | reference | result per preview frame
    loss_curve.png       training loss and validation score per step
    train.log            the run's log
    model.onnx           the exported model (also copied to --out)

Nothing touches the run folder or the `chromaluma` logger before `run()`: a refused setting leaves neither behind.
On several processes (:mod:`chromaluma.train.distributed`) every rank trains and rank 0 alone writes the run folder.
An interruption (Ctrl-C; the CLI turns SIGTERM into the same) keeps every finished checkpoint and leaves no
half-written file; `--resume` continues from the newest checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from chromaluma.errors import ChromalumaError, DeviceError
from chromaluma.host_memory import reuse_freed_memory
from chromaluma.io.atomic import replace_atomically, write_text_atomically
from chromaluma.models import architecture_of, band_limit_px, build_model
from chromaluma.train import objective
from chromaluma.train.checkpoint import checkpoint_paths, load_latest, save_checkpoint
from chromaluma.train.config import CONFIG_NAME, DEFAULT_STEPS, MODEL_NAME, PAIRS_RECORD_NAME, TrainConfig
from chromaluma.train.corrections import join_corrections
from chromaluma.train.crops import crop_size, sample_batch
from chromaluma.train.distributed import TrainingObjective, World, crop_seed, data_parallel, from_rank0, mean_over_ranks
from chromaluma.train.initial import check_resumable, initial_weights
from chromaluma.train.pairs import MIN_PAIRS_FOR_VALIDATION, Pair, density_gap, load_pairs, split_validation
from chromaluma.train.previews import write_contact_sheet, write_loss_curve
from chromaluma.train.trend import MIN_STEPS, run_trend
from chromaluma.train.windows import WindowCounts, attach_windows, log_windows, manifest_sources, number_shots_by_cuts

log = logging.getLogger(__name__)

PREVIEW_FRAMES = 3
# A density (lightness) difference between scans and references above this (0–1 scale, see `density_gap`) is
# one that density keep leaves in the result for everyone to see: about 3 ΔE2000 in the mid-tones.
DENSITY_GAP_NOTE = 0.03
# Runs shorter than this are reported as short even where their error looks settled: the training error of real
# pairs levels off within a few dozen steps at a floor set by grain and the reference's own flaws, while the
# held-out result goes on improving for thousands of steps.
SHORT_RUN_STEPS = DEFAULT_STEPS // 4


class TrainingError(ChromalumaError):
    """A run cannot start or continue (run folder in use, pairs changed since the run began, ...)."""


def pick_device(name: str) -> torch.device:
    """`auto` → CUDA when PyTorch sees a GPU, else CPU; `gpu` without one is an error naming the fix."""
    if name == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if name == "gpu":
        raise DeviceError(f"--device gpu: PyTorch {torch.__version__} sees no CUDA GPU. Install a CUDA build of "
                          "torch and check the driver (nvidia-smi), or use --device auto / cpu.")
    return torch.device("cpu")


class _Session:
    """One sitting of a run: from a fresh start or the newest checkpoint to the stop condition."""

    def __init__(self, config: TrainConfig, resume: bool, progress: bool = True, world: World | None = None,
                 device: torch.device | None = None) -> None:
        """Check everything that can be refused; writes nothing and attaches no log (that is `run()`'s).
        `world`/`device`: this rank's place in a run on several processes and the device all ranks agreed on."""
        self.world = world if world is not None else World()
        init = initial_weights(config.init, config.kind) if config.init is not None and not resume else None
        if init is not None and config.processing_scale is None:
            config.processing_scale = init.processing_scale
        self.config = config.resolved()
        self.resume, self.progress = resume, progress and self.world.writes
        self.run_dir = Path(self.config.run_dir)
        self.device = device if device is not None else pick_device(self.config.device)
        # the architecture is settled before anything is written: a refused --density leaves no run folder
        state = load_latest(self.run_dir) if resume else None
        recorded = state["architecture"] if state is not None else init.architecture if init is not None else None
        architecture = self.config.model_architecture(recorded, f"the run in {self.run_dir}" if resume else
                                                      "the --init model")
        self.radius = self.config.temporal_radius = int(architecture["temporal_radius"])
        self.card_training: dict[str, Any] = {}  # what the model card's `training` section adds (export copies it)
        self.pairs = self._load_pairs()
        self.scan_source, self.windows = self._attach_windows()
        self.train_pairs, self.val_pairs = split_validation(self.pairs, self.config.val_frames)
        self.train_pairs = join_corrections(self)  # --corrections: hand-corrected frames join the training
        self.crop = crop_size(self.train_pairs, self.config.crop)
        torch.manual_seed(self.config.seed)
        self.rng = np.random.default_rng(crop_seed(self.config.seed, self.world))
        self.model = build_model(self.config.kind, float(self.config.processing_scale), architecture).to(self.device)
        self.density = objective.density_of(self.model)
        if init is not None:
            init.check_compatible(self.config, self.model)
            self.model.load_state_dict(init.state_dict)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)
        self.step, self.elapsed = 0, 0.0  # read by the schedule, which LambdaLR evaluates once on creation
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._learning_rate_factor)
        self.amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.losses: list[tuple[int, float]] = []
        self.errors: list[tuple[int, float]] = []  # the loss without its confidence term: the trend is read here
        self.validation: list[tuple[int, dict[str, float]]] = []
        self.sittings: list[dict[str, Any]] = []  # world size and backend from each start or resume (the card's)
        if state is not None:
            self._restore(state)
        self.card_training["sittings"] = self.sittings + [{"from_step": self.step, **self.world.record()}]
        self.card_training.update({**self.world.record(), "global_batch": self.world.size * self.config.batch})
        self.step_objective = data_parallel(TrainingObjective(self.model, self._training_terms), self.world,
                                            self.device)

    def _load_pairs(self) -> list[Pair]:
        """The training frames (a keyframe run has its own, :mod:`chromaluma.train.keyframe_session`)."""
        return load_pairs(self.config.kind, self.config.pairs_dir, self.config.input, self.config.target,
                          self.config.masks)

    def _validates(self) -> bool:
        """Whether the run scores held-out frames (a keyframe run scores its fixed validation samples)."""
        return bool(self.val_pairs)

    def _attach_windows(self) -> tuple[Path | None, WindowCounts]:
        """Each pair's neighbour frames (none for a single-frame run): a pairs folder's own scans, then its scan
        source, within its manifest's shots; for --input/--target the --input sequence is every pair's scan."""
        if self.radius == 0:
            return None, WindowCounts()
        if self.config.pairs_dir is not None:
            scan_source, spans = manifest_sources(self.config.pairs_dir)
            return scan_source, attach_windows(self.pairs, self.radius, scan_source, spans)
        shots = number_shots_by_cuts(self.pairs)
        if shots > 1:
            log.info("%s: %d shots (cuts found as `chromaluma align` finds them); windows stay within each",
                     self.config.input, shots)
        return None, attach_windows(self.pairs, self.radius)

    def _learning_rate_factor(self, step: int) -> float:
        """Cosine decay to 5 % over the run: over --steps, or over --minutes of training time when only the clock
        bounds the run (whichever ends first when both are given).

        A constant rate until the clock stops a run leaves the weights where the last noisy steps put them; decaying
        it lowered held-out ΔE2000 of a 5-minute chroma run with smooth density on the quality benchmark's graded
        shots from 2.47 to 2.22 at the same 2468 steps (2.26 through --minutes 5, 2645 steps).
        """
        progress = 0.0
        if self.config.steps is not None:
            progress = step / max(1, self.config.steps)
        if self.config.minutes is not None:
            progress = max(progress, self.elapsed / (self.config.minutes * 60.0))
        progress = min(1.0, progress)
        return 0.05 + 0.95 * 0.5 * (1.0 + float(np.cos(np.pi * progress)))

    def _record_run(self, pairs: list[Pair]) -> None:
        record = {"pairs": [p.record for p in pairs], "validation_frames": [p.frame for p in self.val_pairs]}
        record_path = self.run_dir / PAIRS_RECORD_NAME
        if self.resume:
            earlier = json.loads(record_path.read_text()) if record_path.is_file() else None
            if earlier != record:
                raise TrainingError(f"{record_path}: the training pairs changed since this run began (files or "
                                    "hashes differ). Restore them, or start a new run with another --run-dir.")
            return
        write_text_atomically(self.run_dir / CONFIG_NAME, self.config.to_json())
        write_text_atomically(record_path, json.dumps(record, indent=2))

    def _restore(self, state: dict[str, Any]) -> None:
        check_resumable(state["model"], self.model, self.run_dir)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        if self.world.rank == 0:
            self.rng.bit_generator.state = state["numpy_rng"]
        else:  # other ranks' crops are not in the checkpoint: drawn afresh, unlike those before the resume
            self.rng = np.random.default_rng(crop_seed(self.config.seed, self.world, int(state["step"])))
        torch.set_rng_state(state["torch_rng"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed_s"])
        self.losses = [(int(s), float(v)) for s, v in state["losses"]]
        self.errors = [(int(s), float(v)) for s, v in state.get("errors", [])]  # absent in older checkpoints
        self.validation = [(int(s), dict(v)) for s, v in state["validation"]]
        self.sittings = list(state.get("card_training", {}).get("sittings", []))

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "step": self.step, "elapsed_s": self.elapsed, "kind": self.config.kind,
            "processing_scale": float(self.config.processing_scale or 1.0),
            "architecture": architecture_of(self.model), "device": self.device.type,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(), "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(), "losses": self.losses, "validation": self.validation,
            "errors": self.errors, "card_training": self.card_training,
        }

    def run(self) -> Path:
        if not self.world.writes:  # another rank: trains alongside rank 0 and writes nothing
            with reuse_freed_memory():
                self._loop()
            if not self.config.export:
                return self.run_dir
            return Path(self.config.out) if self.config.out is not None else self.run_dir / MODEL_NAME
        self.run_dir.mkdir(parents=True, exist_ok=True)  # only once the pairs are known good: no stray run folders
        with _run_log(self.run_dir):
            self._record_run(self.pairs)
            self._announce()
            try:
                with reuse_freed_memory():
                    self._loop()
                self._finish()
                return self._export()
            except KeyboardInterrupt:
                kept = checkpoint_paths(self.run_dir)
                log.error("training interrupted at step %d; %s; nothing is half-written. Continue with `chromaluma "
                          "train --resume %s`", self.step, f"checkpoint {kept[-1].name} is kept" if kept else
                          "no checkpoint was finished yet", self.run_dir)
                raise

    def _announce(self) -> None:
        """One line each for what the run decided on the user's behalf and what they may want to change."""
        if self.resume:
            log.info("resuming %s at step %d", self.run_dir, self.step)
        log_windows(self.radius, self.windows, self.scan_source)
        if not self._validates():
            why = (f"--val-frames {self.config.val_frames}" if self.config.val_frames is not None else
                   f"only {len(self.pairs)} pairs, fewer than {MIN_PAIRS_FOR_VALIDATION}: each is needed for training")
            log.info("validation: no frames held out (%s); progress is judged on the training error and the "
                     "previews. Give --val-frames 1 to hold one out.", why)
        if self.crop < self.config.crop:
            log.warning("--crop %d: larger than the smallest training frame; crops are %d px (its shorter edge). "
                        "Give --crop %d or less to silence this.", self.config.crop, self.crop, self.crop)
        if self.config.kind == "chroma" and self.density == "keep":
            gap = density_gap(self.train_pairs)
            if gap > DENSITY_GAP_NOTE:
                log.warning("density: the references are %.0f %% of full scale lighter or darker than the scans on "
                            "average, and density keep leaves the scans' lightness in the result. Grade the scans' "
                            "density first, or train a new model with --density smooth.", 100 * gap)

    def _loop(self) -> None:
        config = self.config
        val_every = config.val_every or config.preview_every
        deadline = None if config.minutes is None else config.minutes * 60.0
        bar = tqdm(total=config.steps, initial=self.step, unit="step", desc=f"train {config.kind}", dynamic_ncols=True,
                   disable=not self.progress)
        started = time.monotonic() - self.elapsed
        try:
            first = self.step
            while self._more_steps(first, started, deadline):
                loss, error = self._train_step()
                self.step += 1
                # rank 0's clock on every rank: the schedule gives every rank the same learning rate
                self.elapsed = from_rank0(self.world, [time.monotonic() - started])[0]
                self.schedule.step()  # after the clock is read: a --minutes run decays by its time spent
                loss, error = mean_over_ranks(self.world, [loss, error])  # the step's whole batch, as one process
                self.losses.append((self.step, loss))
                self.errors.append((self.step, error))
                if self.world.writes:
                    self._record_step(val_every)
                bar.update(1)
                bar.set_postfix(self._progress_fields(loss, deadline), refresh=False)
        finally:
            bar.close()

    def _more_steps(self, first: int, started: float, deadline: float | None) -> bool:
        """Whether to take another step: --steps not reached and --minutes not spent; a sitting takes at least one
        step. Rank 0's clock decides for every rank, so none waits for a step the others do not take."""
        if self.config.steps is not None and self.step >= self.config.steps:
            return False
        if deadline is None or self.step == first:
            return True
        return bool(from_rank0(self.world, [float(time.monotonic() - started < deadline)])[0])

    def _record_step(self, val_every: int) -> None:
        """Rank 0's writes after a step: validation, previews and checkpoints when they are due."""
        if self.step % val_every == 0 and self._validates():
            self._validate()
        if self.step == 1 or self.step % self.config.preview_every == 0:
            self._preview()
        if self.step % self.config.checkpoint_every == 0:
            save_checkpoint(self.run_dir, self.step, self.checkpoint_state())

    def _progress_fields(self, loss: float, deadline: float | None) -> dict[str, str]:
        fields = {"loss": f"{loss:.4f}"}
        if self.validation:
            name = objective.headline(self.config.kind, self.density)
            fields["val"] = f"{self.validation[-1][1][name]:.3g}"
        if deadline is not None:
            fields["left"] = time.strftime("%M:%S", time.gmtime(max(0.0, deadline - self.elapsed)))
        return fields

    def _training_batch(self) -> tuple[torch.Tensor, ...]:
        """This rank's crops for one step (scan, reference, validity): what `_training_terms` takes after the model."""
        return sample_batch(self.train_pairs, self.crop, self.config.batch, self.rng, self.radius,
                            self.config.exposure_jitter)

    def _training_terms(self, model: torch.nn.Module, *batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, training error) of `model` on a batch from `_training_batch`."""
        return objective.training_terms(self.config.kind, model, *batch)

    def _train_step(self) -> tuple[float, float]:
        """One optimizer step on this rank's crops (gradients averaged over the ranks); returns (loss, training
        error) on them."""
        self.model.train()
        batch = tuple(t.to(self.device) for t in self._training_batch())
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp):
            loss, error = self.step_objective(*batch)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach()), float(error)

    def _validate(self) -> dict[str, float]:
        self.model.eval()
        results = [objective.restore_frame(self.model, p.window_array(), self.device) for p in self.val_pairs]
        scores = objective.validation_scores(self.config.kind, results, [p.scan for p in self.val_pairs],
                                             [p.reference for p in self.val_pairs], [p.valid for p in self.val_pairs],
                                             self.density, band_limit_px(self.model.factor))
        self.validation.append((self.step, scores))
        log.debug("step %d validation %s", self.step, scores)
        return scores

    def _preview(self) -> None:
        self.model.eval()
        frames = (self.val_pairs or self.train_pairs)[:PREVIEW_FRAMES]
        rows = [(p.scan, p.reference, objective.restore_frame(self.model, p.window_array(), self.device))
                for p in frames]
        write_contact_sheet(self.run_dir / "previews" / f"step_{self.step:07d}.png", rows,
                            f"STEP {self.step}   scan | reference | result")

    def _finish(self) -> None:
        if self._validates() and (not self.validation or self.validation[-1][0] != self.step):
            self._validate()
        if self.step % self.config.preview_every != 0 and self.step != 1:
            self._preview()
        name = objective.headline(self.config.kind, self.density)
        advice = self._judge_trend(name)
        save_checkpoint(self.run_dir, self.step, self.checkpoint_state())
        write_loss_curve(self.run_dir / "loss_curve.png", self.losses,
                         [(s, v[name]) for s, v in self.validation], name)
        final = self.validation[-1][1] if self.validation else {}
        log.info("trained %d steps in %.0f s%s", self.step, self.elapsed,
                 "".join(f", {k} {v:.3g}" for k, v in final.items()))
        if advice:
            log.warning("%s", advice)

    def _judge_trend(self, headline: str) -> str:
        """Record in `card_training` whether the run stopped while still improving, or too short to say; returns
        the WARNING text for either ("" when the run has settled)."""
        trend = run_trend(self.errors, self.validation, headline)
        short = self.step < SHORT_RUN_STEPS
        self.card_training.update({
            "stopped_while_improving": None if trend is None else trend.still_improving,
            "trend": trend.record() if trend is not None else f"too few steps to judge (fewer than {MIN_STEPS})",
            "short_run": short})
        more = (f"--steps {max(3 * self.step, DEFAULT_STEPS)}" if self.config.steps is not None
                and self.step >= self.config.steps else f"--minutes {3 * (self.config.minutes or 1):g}")
        hint = f"continue with `chromaluma train --resume {self.run_dir} {more}`"
        if trend is not None and trend.still_improving:
            what = "validation" if trend.measure.startswith("validation") else "training error"
            return f"trained {self.step} steps; {what} still falling ({trend.describe()}); {hint}"
        if trend is None:
            return (f"trained {self.step} steps: too few to tell whether the model has learnt what the pairs hold; "
                    f"{hint}")
        if short:
            return (f"trained {self.step} steps, fewer than {SHORT_RUN_STEPS}: models go on improving well past that "
                    f"({DEFAULT_STEPS} steps by default) even where the {trend.measure} has levelled off; {hint}")
        return ""

    def _export(self) -> Path:
        if not self.config.export:
            return self.run_dir
        from chromaluma.export import export_run

        model_path = export_run(self.run_dir, self.run_dir / MODEL_NAME)
        if self.config.out is None:
            return model_path
        out = Path(self.config.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        for source, target in ((model_path, out), (model_path.with_suffix(".json"), out.with_suffix(".json"))):
            replace_atomically(target, lambda tmp, source=source: shutil.copyfile(source, tmp))
        return out


@contextlib.contextmanager
def _run_log(run_dir: Path) -> Iterator[None]:
    """The run's `train.log` on the `chromaluma` logger (at INFO at least) while the block runs; the logger's
    handlers and level are exactly as before afterwards, however the block ends."""
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("chromaluma")
    previous_level = package_logger.level
    package_logger.addHandler(handler)
    try:
        if previous_level == logging.NOTSET or previous_level > logging.INFO:
            package_logger.setLevel(logging.INFO)
        yield
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)
        handler.close()
