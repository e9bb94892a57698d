"""`chromaluma train` says what it decided and never silently learns nothing: the stopped-while-improving warning
and card entry, crops larger than the frames, few pairs and validation, the density default and its note, the run
log attached only while the run runs, and interruptions that keep what was finished."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from chromaluma.cli import main
from chromaluma.contract import read_model_contract
from chromaluma.errors import ParameterError, SequenceError
from chromaluma.io import write_frame
from chromaluma.models import build_model
from chromaluma.train import TrainConfig, TrainingError, loop, resume, train
from chromaluma.train import checkpoint as checkpoint_module
from chromaluma.train.checkpoint import checkpoint_paths, load_latest
from chromaluma.train.trend import STILL_IMPROVING, run_trend
from test_train import LUMA, PNG16, _config, _fade, _scene, _write_shots

ROOT = Path(__file__).resolve().parents[2]


def _cli_args(root: Path, *extra: str) -> list[str]:
    return ["train", "--input", str(root / "scan"), "--target", str(root / "reference"), "--run-dir",
            str(root / "run"), "--preview-every", "1000", "--no-progress", *extra]


def _write_cast_shots(root: Path, frames: int = 5, size: int = 32) -> None:
    """Scans with a strong uniform colour cast (luma kept): crops the size of the frame all show the same error,
    so the training error falls smoothly while the model removes the cast."""
    rng = np.random.default_rng(0)
    (root / "scan").mkdir(parents=True)
    (root / "reference").mkdir()
    for index in range(frames):
        reference = np.clip(0.2 + 0.6 * _scene(rng, size, size), 0.0, 1.0)
        cast = reference + np.array([0.25, -0.15, 0.2], dtype=np.float32)
        scan = np.clip(cast - (cast @ LUMA - reference @ LUMA)[..., None], 0.0, 1.0)
        write_frame(root / "scan" / f"reel.{1001 + index:05d}.png", scan, PNG16)
        write_frame(root / "reference" / f"dvd.{1001 + index:05d}.png", reference, PNG16)


@pytest.fixture
def package_logger() -> Iterator[logging.Logger]:
    """The `chromaluma` logger at WARNING with no handlers of ours, restored afterwards."""
    logger = logging.getLogger("chromaluma")
    level, handlers = logger.level, list(logger.handlers)
    logger.setLevel(logging.WARNING)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


# --- stopped while improving ---------------------------------------------------------------------------------------


def test_trend_reads_validation_a_third_of_the_run_earlier_else_the_training_error():
    falling = [(s, {"delta_e2000_mean": 8.0 - 0.005 * s}) for s in range(100, 1001, 100)]
    trend = run_trend([], falling, "delta_e2000_mean")
    assert trend is not None and trend.still_improving
    assert (trend.from_step, trend.to_step) == (700, 1000)  # about a third of the run earlier
    flat = [(s, {"delta_e2000_mean": 3.0}) for s in range(100, 1001, 100)]
    assert not run_trend([], flat, "delta_e2000_mean").still_improving
    # higher PSNR is better: 1 dB more over the last third is a 21 % lower squared error
    psnr = [(s, {"psnr_db": 30.0 + s / 300}) for s in range(100, 1001, 100)]
    assert run_trend([], psnr, "psnr_db").still_improving
    # one validation only, or none early enough: the training error decides (a step-window mean, not single steps)
    errors = [(s, 0.1 if s % 2 else 0.2) for s in range(1, 61)]  # noisy but flat
    assert run_trend(errors, [(60, {"delta_e2000_mean": 5.0})], "delta_e2000_mean").measure == "training error"
    assert not run_trend(errors, [], "delta_e2000_mean").still_improving
    assert run_trend([(s, 1.0 / s) for s in range(1, 61)], [], "delta_e2000_mean").still_improving
    assert run_trend(errors[:5], [], "delta_e2000_mean") is None  # too short to tell
    assert 0.0 < STILL_IMPROVING < 0.5


@pytest.mark.slow
def test_a_short_run_that_is_still_learning_warns_and_the_card_records_it(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture,
                                                                          capsys: pytest.CaptureFixture[str]):
    """30 steps at a low learning rate against a strong cast: the error is still falling steadily at the end."""
    _write_cast_shots(tmp_path)
    out = tmp_path / "reel.onnx"
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        assert main(_cli_args(tmp_path, "--steps", "30", "--crop", "32", "--batch", "8", "--learning-rate", "5e-4",
                              "--out", str(out))) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    advice = [m for m in warnings if m.startswith("trained 30 steps; training error still falling")]
    assert len(advice) == 1, warnings
    assert f"continue with `chromaluma train --resume {tmp_path / 'run'} --steps 2000`" in advice[0]
    assert "train chroma" not in capsys.readouterr().err  # --no-progress: no progress bar
    training = read_model_contract(out).card["training"]
    assert training["stopped_while_improving"] is True
    trend = training["trend"]
    assert trend["measure"] == "training error" and trend["to_step"] == 30 and trend["from"] > trend["to"]
    assert trend["reduction_per_third"] > trend["threshold"]
    assert advice[0] in (tmp_path / "run" / "train.log").read_text()


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")  # no optimizer step
def test_a_run_that_has_stopped_learning_does_not_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture):
    """Weights that no longer change (the step is replaced by one that only reports a flat error): the held-out
    score stays where it is, and a run of the usual length is not said to be still improving or short."""
    _write_shots(tmp_path, frames=4, height=24, width=24)
    monkeypatch.setattr(loop._Session, "_train_step", lambda session: (0.05, 0.05))
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=600, crop=16, val_frames=1, val_every=100, preview_every=1000,
                      checkpoint_every=1000, export=True), progress=False)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING and r.getMessage().startswith("trained")]
    training = read_model_contract(tmp_path / "run" / "model.onnx").card["training"]
    assert training["stopped_while_improving"] is False and training["short_run"] is False
    assert training["trend"]["measure"].startswith("validation") and training["trend"]["from_step"] == 400


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")  # no optimizer step
def test_a_short_run_whose_error_has_levelled_off_is_still_called_short(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture):
    _write_shots(tmp_path, frames=2, height=24, width=24)
    monkeypatch.setattr(loop._Session, "_train_step", lambda session: (0.05, 0.05))
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=60, crop=16, preview_every=1000, checkpoint_every=1000), progress=False)
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.getMessage().startswith(
        "trained 60 steps, fewer than 500")]
    assert len(said) == 1 and "--resume" in said[0] and "--steps 2000" in said[0], caplog.text
    state = load_latest(tmp_path / "run")
    assert state["card_training"]["short_run"] is True and state["card_training"]["stopped_while_improving"] is False


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")  # no optimizer step
def test_validation_still_falling_fast_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture):
    """A held-out score that keeps falling by a tenth of its value every few steps; the training error is flat,
    so only the validation history can raise the warning."""
    _write_shots(tmp_path, frames=4, height=24, width=24)
    monkeypatch.setattr(loop._Session, "_train_step", lambda session: (0.05, 0.05))
    scores = iter(range(100))

    def falling(*args, **kwargs) -> dict[str, float]:
        value = 10.0 - next(scores)
        return {"delta_e2000_mean": value, "delta_e2000_p95": value, "delta_e2000_reference_mean": value,
                "delta_e2000_reference_p95": value}

    monkeypatch.setattr(loop.objective, "validation_scores", falling)
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=30, crop=16, val_frames=1, val_every=5, preview_every=1000,
                      checkpoint_every=1000), progress=False)
    assert any(r.levelno == logging.WARNING and r.getMessage().startswith("trained 30 steps; validation still falling")
               and "--resume" in r.getMessage() for r in caplog.records), caplog.text
    assert load_latest(tmp_path / "run")["card_training"]["stopped_while_improving"] is True


def test_too_few_steps_to_judge_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _write_shots(tmp_path, frames=2)
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=3, minutes=None), progress=False)
    assert any(r.levelno == logging.WARNING and r.getMessage().startswith("trained 3 steps: too few to tell")
               for r in caplog.records), caplog.text
    assert load_latest(tmp_path / "run")["card_training"]["stopped_while_improving"] is None


# --- crops, pairs and validation frames ----------------------------------------------------------------------------


def test_a_crop_larger_than_the_frames_is_clamped_with_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _write_shots(tmp_path, frames=2, height=24, width=32)
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=1, crop=256), progress=False)
    notes = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "--crop 256" in r.getMessage()]
    assert len(notes) == 1 and "crops are 24 px" in notes[0] and "--crop 24 or less" in notes[0]
    assert load_latest(tmp_path / "run")["step"] == 1
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, "fits", steps=1, crop=16), progress=False)
    assert "--crop" not in caplog.text


@pytest.mark.parametrize(("frames", "val_frames", "held"), [(4, None, 0), (7, None, 0), (8, None, 1), (4, 1, 1)])
def test_few_pairs_hold_out_none_by_default_and_say_so(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                       frames: int, val_frames: int | None, held: int):
    _write_shots(tmp_path, frames=frames, height=24, width=24)
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=1, crop=16, val_frames=val_frames), progress=False)
    assert len(json.loads((tmp_path / "run" / "pairs.json").read_text())["validation_frames"]) == held
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("validation: no frames held out")]
    if held:
        assert not said
    else:
        assert len(said) == 1 and f"only {frames} pairs, fewer than 8" in said[0] and "--val-frames 1" in said[0]


def test_zero_validation_frames_asked_for_is_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _write_shots(tmp_path, frames=8, height=24, width=24)
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=1, crop=16, val_frames=0), progress=False)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("validation: no frames held out")]
    assert len(said) == 1 and "(--val-frames 0)" in said[0]


def test_a_pairs_folder_listing_no_pairs_is_refused(tmp_path: Path):
    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs" / "manifest.json").write_text(json.dumps({"format_version": 1, "pairs": []}))
    with pytest.raises(SequenceError, match=r"manifest\.json: lists no pairs.*chromaluma align"):
        train(_config(tmp_path, pairs_dir=tmp_path / "pairs", input=None, target=None))
    assert not (tmp_path / "run").exists()


def test_resume_of_a_folder_that_is_not_a_run_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    folder = tmp_path / "renders"
    folder.mkdir()
    (folder / "frame.0001.png").write_bytes(b"not touched")
    with pytest.raises(TrainingError, match=r"--resume .*renders: no config\.json there.*--run-dir"):
        resume(folder)
    with caplog.at_level(logging.ERROR):
        assert main(["train", "--resume", str(folder), "--no-progress"]) == 2
    assert "not a Chromaluma run folder" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == ["frame.0001.png"]



def test_holding_out_every_pair_is_refused_before_anything_is_written(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture):
    _write_shots(tmp_path, frames=3)
    with caplog.at_level(logging.ERROR):
        assert main(_cli_args(tmp_path, "--steps", "2", "--val-frames", "3")) == 2
    assert "--val-frames 3: with 3 pairs at most 2 can be held out" in caplog.text
    assert not (tmp_path / "run").exists()

# --- density default -----------------------------------------------------------------------------------------------


def test_new_chroma_models_correct_density_and_init_keeps_the_models_own(tmp_path: Path):
    _write_shots(tmp_path, frames=2)
    train(_config(tmp_path, "new", steps=1), progress=False)
    assert load_latest(tmp_path / "new")["architecture"]["density"] == "smooth"
    train(_config(tmp_path, "plain", steps=1, density="keep"), progress=False)
    train(_config(tmp_path, "tuned", steps=1, init=tmp_path / "plain"), progress=False)  # no --density
    assert load_latest(tmp_path / "tuned")["architecture"]["density"] == "keep"
    # a model from before density existed records none: it keeps the scan's luma, as it always did
    old = load_latest(tmp_path / "plain")
    del old["architecture"]["density"]
    torch.save(old, tmp_path / "old.pt")
    train(_config(tmp_path, "from_old", steps=1, init=tmp_path / "old.pt"), progress=False)
    assert load_latest(tmp_path / "from_old")["architecture"]["density"] == "keep"
    with pytest.raises(ParameterError, match="density 'keep'"):
        train(_config(tmp_path, "refused", steps=1, init=tmp_path / "old.pt", density="smooth"))


def test_the_demo_model_script_still_trains_the_shipped_architecture():
    spec = importlib.util.spec_from_file_location("chromaluma_make_demo_model", ROOT / "scripts" / "make_demo_model.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    card = json.loads((ROOT / "models" / "chromaluma-demo-chroma.json").read_text())["model"]
    settings = TrainConfig(run_dir=Path("unused"), kind="chroma", input=Path("s"), target=Path("r"),
                           architecture=script.DEMO_ARCHITECTURE)
    model = build_model("chroma", card["processing_scale"], settings.model_architecture())
    assert model.density == "keep" and sum(p.numel() for p in model.parameters()) == card["parameters"]


def _write_lighter_scans(root: Path, lift: float, frames: int = 2, size: int = 48) -> None:
    """Faded scans whose lightness is `lift` above their references' (a print faded lighter)."""
    rng = np.random.default_rng(4)
    (root / "scan").mkdir(parents=True)
    (root / "reference").mkdir()
    for index in range(frames):
        reference = np.clip(_scene(rng, size, size) * 0.8, 0.0, 1.0)
        write_frame(root / "scan" / f"reel.{1001 + index:05d}.png", np.clip(_fade(reference) + lift, 0, 1), PNG16)
        write_frame(root / "reference" / f"dvd.{1001 + index:05d}.png", reference, PNG16)


@pytest.mark.parametrize(("lift", "density", "noted"), [(0.12, "keep", True), (0.12, None, False),
                                                        (0.0, "keep", False)])
def test_density_keep_on_a_scan_faded_lighter_says_what_to_do(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              lift: float, density: str | None, noted: bool):
    _write_lighter_scans(tmp_path, lift)
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        train(_config(tmp_path, steps=1, density=density), progress=False)
    notes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("density: the references are")]
    assert len(notes) == int(noted), caplog.text
    if noted:
        assert "12 % of full scale" in notes[0] and "--density smooth" in notes[0]
    assert abs(float(np.mean(_fade(np.full((2, 2, 3), 0.5, np.float32)) @ LUMA)) - 0.5) < 1e-3  # _fade keeps luma


# --- the run log and interruptions ---------------------------------------------------------------------------------


def test_a_refusal_before_training_leaves_the_package_logger_and_disk_as_they_were(
        tmp_path: Path, package_logger: logging.Logger):
    _write_shots(tmp_path, frames=2)
    train(_config(tmp_path, "first", steps=1), progress=False)
    handlers, level = list(package_logger.handlers), package_logger.level
    # refused after the pairs are read and the model is built: the --init model works at another scale
    with pytest.raises(ParameterError, match="--processing-scale 0.5"):
        train(_config(tmp_path, steps=1, init=tmp_path / "first", processing_scale=0.5))
    assert package_logger.handlers == handlers and package_logger.level == level
    assert not (tmp_path / "run").exists()
    # refused inside run(): the pairs changed since the run began
    frame = next((tmp_path / "scan").iterdir())
    write_frame(frame, np.zeros((40, 48, 3), np.float32), PNG16)
    with pytest.raises(TrainingError, match="pairs changed"):
        resume(tmp_path / "first", steps=2)
    assert package_logger.handlers == handlers and package_logger.level == level


def _partials(run_dir: Path) -> list[Path]:
    return [p for p in run_dir.rglob("*") if "partial" in p.name]


def test_an_interrupt_keeps_finished_checkpoints_and_resume_continues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      package_logger: logging.Logger):
    _write_shots(tmp_path, frames=2)
    original_step = loop._Session._train_step
    calls = {"n": 0}

    def interrupted_at_step_five(session: loop._Session) -> tuple[float, float]:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # Ctrl-C, or SIGTERM as the CLI maps it
        return original_step(session)

    monkeypatch.setattr(loop._Session, "_train_step", interrupted_at_step_five)
    handlers, level = list(package_logger.handlers), package_logger.level
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, export=True), progress=False)
    run_dir = tmp_path / "run"
    assert [p.name for p in checkpoint_paths(run_dir)] == ["step_0000003.pt"]
    assert not _partials(run_dir) and not (run_dir / "model.onnx").exists()
    assert package_logger.handlers == handlers and package_logger.level == level
    log_text = (run_dir / "train.log").read_text()
    assert "training interrupted at step 4; checkpoint step_0000003.pt is kept" in log_text
    assert f"--resume {run_dir}" in log_text
    monkeypatch.setattr(loop._Session, "_train_step", original_step)
    resume(run_dir, progress=False)
    assert load_latest(run_dir)["step"] == 6 and (run_dir / "model.onnx").is_file()


def test_an_interrupt_while_a_checkpoint_is_written_leaves_the_previous_one(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            caplog: pytest.LogCaptureFixture):
    _write_shots(tmp_path, frames=2)
    real_save = torch.save
    calls = {"n": 0}

    def interrupted_mid_write(state, stream):
        calls["n"] += 1
        if calls["n"] == 2:
            stream.write(b"PK\x03\x04 half a checkpoint")
            raise KeyboardInterrupt
        return real_save(state, stream)

    monkeypatch.setattr(checkpoint_module.torch, "save", interrupted_mid_write)
    with caplog.at_level(logging.ERROR):
        assert main(_cli_args(tmp_path, "--steps", "6", "--crop", "24", "--batch", "2", "--checkpoint-every",
                              "3")) == 130
    run_dir = tmp_path / "run"
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_0000003.pt"]
    assert not _partials(run_dir)
    assert load_latest(run_dir)["step"] == 3
    assert "training interrupted at step 6; checkpoint step_0000003.pt is kept" in caplog.text
