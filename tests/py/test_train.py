"""Training runs: determinism, exact resume, atomic checkpoints, previews, masks and learning on a faded shot."""

from __future__ import annotations

import errno
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.metrics import delta_e2000
from chromaluma.models import build_model
from chromaluma.models.colour import LUMA_WEIGHTS
from chromaluma.train import TrainConfig, resume, train
from chromaluma.train import checkpoint as checkpoint_module
from chromaluma.train.checkpoint import CheckpointError, checkpoint_paths, load_checkpoint, load_latest
from chromaluma.train.objective import CONFIDENCE_WEIGHT, training_loss
from chromaluma.train.previews import SHEET_PANEL_WIDTH, TITLE_HEIGHT

PNG16 = FrameFormat(".png", "uint16", 16, 3)
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _scene(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth coloured blobs: a picture with regions of colour, like a frame, not noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.zeros((height, width, 3), dtype=np.float32)
    for _ in range(4):
        cy, cx, radius = rng.random() * height, rng.random() * width, 8 + rng.random() * 16
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))[..., None]
        frame += blob * rng.random(3).astype(np.float32)
    return np.clip(0.15 + frame * 0.7, 0.0, 1.0)


def _fade(reference: np.ndarray) -> np.ndarray:
    """A faded print: colour pulled towards grey and a magenta cast, luma kept."""
    y = reference @ LUMA
    faded = 0.45 * reference + 0.55 * y[..., None] + np.array([0.05, -0.03, 0.04], dtype=np.float32)
    return np.clip(faded - (faded @ LUMA - y)[..., None], 0.0, 1.0)


def _write_shots(root: Path, frames: int = 5, height: int = 40, width: int = 48, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    scan_dir, reference_dir = root / "scan", root / "reference"
    scan_dir.mkdir(parents=True)
    reference_dir.mkdir()
    for index in range(frames):
        reference = _scene(rng, height, width)
        write_frame(scan_dir / f"reel.{1001 + index:05d}.png", _fade(reference), PNG16)
        write_frame(reference_dir / f"dvd.{1001 + index:05d}.png", reference, PNG16)
    return scan_dir, reference_dir


def _config(root: Path, run: str = "run", **overrides) -> TrainConfig:
    values = {"run_dir": root / run, "input": root / "scan", "target": root / "reference", "steps": 6, "crop": 24,
              "batch": 2, "preview_every": 3, "checkpoint_every": 3, "seed": 5, "export": False}
    values.update(overrides)
    return TrainConfig(**values)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_latest(run_dir)["model"]


def test_same_seed_same_weights_on_cpu(tmp_path: Path):
    _write_shots(tmp_path)
    train(_config(tmp_path, "a", device="cpu"))
    train(_config(tmp_path, "b", device="cpu"))
    first, second = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert any(not torch.equal(t, build_model("chroma", 0.25).state_dict()[n]) for n, t in first.items())
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _write_shots(tmp_path)
    train(_config(tmp_path, "straight"))
    from chromaluma.train import loop

    original_step = loop._Session._train_step
    calls = {"n": 0}

    def dies_at_step_five(session: loop._Session) -> float:
        calls["n"] += 1
        if calls["n"] == 5:
            raise SystemExit("killed")  # like a kill: no cleanup, the newest checkpoint is step 3
        return original_step(session)

    monkeypatch.setattr(loop._Session, "_train_step", dies_at_step_five)
    with pytest.raises(SystemExit):
        train(_config(tmp_path, "killed"))
    assert [p.name for p in checkpoint_paths(tmp_path / "killed")] == ["step_0000003.pt"]
    monkeypatch.setattr(loop._Session, "_train_step", original_step)
    resume(tmp_path / "killed")
    straight, resumed = load_latest(tmp_path / "straight"), load_latest(tmp_path / "killed")
    assert resumed["step"] == straight["step"] == 6
    assert all(torch.equal(straight["model"][n], resumed["model"][n]) for n in straight["model"])
    assert straight["optimizer"]["state"][0]["step"] == resumed["optimizer"]["state"][0]["step"]
    assert [v for _, v in straight["losses"]] == [v for _, v in resumed["losses"]]


def test_disk_full_during_a_checkpoint_keeps_the_previous_one_and_resume_works(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    _write_shots(tmp_path)
    real_save = torch.save
    calls = {"n": 0}

    def fills_the_disk(state, stream):
        calls["n"] += 1
        if calls["n"] == 2:
            stream.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(state, stream)

    monkeypatch.setattr(checkpoint_module.torch, "save", fills_the_disk)
    with pytest.raises(CheckpointError, match=r"step_0000006\.pt.*No space left.*step_0000003\.pt is intact.*--resume"):
        train(_config(tmp_path))
    run_dir = tmp_path / "run"
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_0000003.pt"]  # no partial file left
    assert load_checkpoint(run_dir / "checkpoints" / "step_0000003.pt")["step"] == 3
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    resume(run_dir)
    assert load_latest(run_dir)["step"] == 6


def test_run_folder_has_previews_sheets_and_loss_curve(tmp_path: Path):
    _write_shots(tmp_path, frames=4)
    train(_config(tmp_path, val_frames=1))
    run_dir = tmp_path / "run"
    sheets = sorted(p.name for p in (run_dir / "previews").iterdir())
    assert sheets == ["step_0000001.png", "step_0000003.png", "step_0000006.png"]
    sheet, _ = read_frame(run_dir / "previews" / "step_0000001.png")
    held_out = json.loads((run_dir / "pairs.json").read_text())["validation_frames"]
    assert len(held_out) == 1  # the preview frame is the held-out frame
    scan, _ = read_frame(tmp_path / "scan" / f"reel.{held_out[0]:05d}.png")
    reference, _ = read_frame(tmp_path / "reference" / f"dvd.{held_out[0]:05d}.png")
    height, width = scan.shape[:2]
    assert sheet.shape[:2] == (TITLE_HEIGHT + height, 3 * width + 2 * 4) and width < SHEET_PANEL_WIDTH
    picture = sheet[TITLE_HEIGHT:]
    assert np.abs(picture[:, :width] - scan).max() < 2 / 255  # scan | reference | result
    assert np.abs(picture[:, width + 4:2 * width + 4] - reference).max() < 2 / 255
    assert sheet[:TITLE_HEIGHT].max() > 0.5  # the "STEP n" title is drawn
    assert (run_dir / "loss_curve.png").stat().st_size > 1000
    assert (run_dir / "config.json").is_file() and (run_dir / "pairs.json").is_file()
    assert "trained 6 steps" in (run_dir / "train.log").read_text()


def test_pixels_outside_the_mask_never_reach_the_loss(rng: np.random.Generator):
    model = build_model("chroma", 0.25)
    scan = torch.from_numpy(rng.random((2, 16, 16, 4), dtype=np.float32))
    reference = torch.from_numpy(rng.random((2, 16, 16, 3), dtype=np.float32))
    valid = torch.ones(2, 16, 16)
    valid[:, :, 10:] = 0.0
    changed = reference.clone()
    changed[:, :, 10:] = 1.0 - changed[:, :, 10:]
    with torch.no_grad():
        base = training_loss("chroma", model, scan, reference, valid)
        assert torch.equal(base, training_loss("chroma", model, scan, changed, valid))
        assert not torch.equal(base, training_loss("chroma", model, scan, changed, torch.ones(2, 16, 16)))


@pytest.mark.parametrize("density", ["keep", "smooth"])
def test_chroma_training_loss_is_the_rgba_error_and_gradient(rng: np.random.Generator, density: str):
    """The chroma loss is computed on luma/Cb/Cr planes for speed; its value and every weight's gradient must be
    those of the chroma error written out here on the model's RGBA output (Cb = B − Y and Cr = R − Y differences,
    plus the luma difference with smooth density), masked the same way."""
    torch.manual_seed(1)
    model = build_model("chroma", 0.25, {"width": 8, "dilations": [1, 2], "density": density})
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3)
    scan = torch.from_numpy(rng.random((2, 20, 28, 4), dtype=np.float32))
    reference = torch.from_numpy(rng.random((2, 20, 28, 3), dtype=np.float32))
    valid = torch.from_numpy((rng.random((2, 20, 28)) > 0.2).astype(np.float32))

    def rgba_path() -> torch.Tensor:
        restored, log_sigma = model(scan)
        difference = restored[..., :3] - reference
        luma_difference = difference @ torch.tensor(LUMA_WEIGHTS)
        error = 0.5 * ((difference[..., 2] - luma_difference).abs() + (difference[..., 0] - luma_difference).abs())
        if density == "smooth":
            error = error + luma_difference.abs()
        log_sigma_full = model.upsample(log_sigma, scan)[..., 0]
        nll = error.detach() * torch.exp(-log_sigma_full) + log_sigma_full + math.log(2.0)
        return ((error + CONFIDENCE_WEIGHT * nll) * valid).sum() / valid.sum()

    weights = list(model.parameters())
    expected, loss = rgba_path(), training_loss("chroma", model, scan, reference, valid)
    torch.testing.assert_close(loss, expected, atol=1e-6, rtol=1e-5)
    for got, want in zip(torch.autograd.grad(loss, weights), torch.autograd.grad(expected, weights), strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_minutes_bound_a_run(tmp_path: Path):
    _write_shots(tmp_path, frames=2)
    train(_config(tmp_path, steps=None, minutes=1e-6))
    state = load_latest(tmp_path / "run")
    assert state["step"] == 1  # at least one step, then the clock stops it
    # the learning rate decays over the time budget as it does over --steps: spent, it is down to 5 %
    assert state["schedule"]["_last_lr"][0] == pytest.approx(0.05 * 2e-3)


@pytest.mark.slow
def test_chroma_training_restores_colour_of_held_out_frames(tmp_path: Path):
    _write_shots(tmp_path, frames=6, height=64, width=64, seed=1)
    model_path = train(_config(tmp_path, steps=150, crop=48, batch=4, preview_every=150, checkpoint_every=150,
                               val_frames=1, learning_rate=5e-3, export=True))
    import onnxruntime as ort

    held_out = json.loads((tmp_path / "run" / "pairs.json").read_text())["validation_frames"][0]
    scan, _ = read_frame(tmp_path / "scan" / f"reel.{held_out:05d}.png")
    reference, _ = read_frame(tmp_path / "reference" / f"dvd.{held_out:05d}.png")
    image = np.concatenate([scan, np.ones_like(scan[..., :1])], axis=2)[None]
    restored = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).run(
        ["restored"], {"image": image})[0][0]
    before, after = delta_e2000(scan, reference).mean, delta_e2000(restored, reference).mean
    assert after < 0.35 * before, (before, after)


def test_chroma_validation_scores_colour_apart_from_the_density_a_chroma_model_keeps(rng: np.random.Generator):
    from chromaluma.train.objective import colour_truth, validation_scores

    reference = _scene(rng, 24, 24)
    scan = np.concatenate([np.clip(reference * 0.8, 0, 1), np.ones((24, 24, 1), np.float32)], axis=2)  # darker
    perfect = colour_truth(scan, reference)  # reference colour, scan luma
    np.testing.assert_allclose(perfect @ LUMA, scan[..., :3] @ LUMA, atol=1e-6)
    valid = np.ones((24, 24), np.float32)
    scores = validation_scores("chroma", [perfect], [scan], [reference], [valid])
    assert scores["delta_e2000_mean"] < 0.05 and scores["delta_e2000_reference_mean"] > 1.0
    wrong = validation_scores("chroma", [scan[..., :3]], [scan], [reference], [valid])
    assert wrong["delta_e2000_mean"] > 0.5


def test_init_fine_tunes_from_an_exported_model(tmp_path: Path):
    _write_shots(tmp_path, frames=3)
    first = train(_config(tmp_path, "first", export=True))
    train(_config(tmp_path, "second", init=first, steps=1, learning_rate=1e-12, preview_every=100))
    start, tuned = _weights(tmp_path / "first"), _weights(tmp_path / "second")
    assert all(torch.allclose(start[name], tuned[name], atol=1e-9) for name in start)
    assert json.loads((tmp_path / "second" / "config.json").read_text())["init"] == str(first)
