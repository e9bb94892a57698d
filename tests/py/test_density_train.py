"""`chromaluma train --density smooth`: the flag, what the model learns, its card, export, resume and --init."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from chromaluma.card import describe_card, summary_line
from chromaluma.cli import main
from chromaluma.contract import read_model_contract
from chromaluma.errors import ParameterError
from chromaluma.io import read_frame, write_frame
from chromaluma.train import resume, train
from chromaluma.train.checkpoint import load_latest
from test_train import LUMA, PNG16, _config, _fade, _scene, _write_shots


def _ramp(width: int) -> np.ndarray:
    """How much brighter the reference is than the scan: a smooth ramp across the frame, 0.1 → 0.25."""
    return np.linspace(0.10, 0.25, width, dtype=np.float32)[None, :, None]


def _write_darkened_shots(root: Path, frames: int, size: int) -> None:
    """Faded scans that are also darker than their references by a smooth ramp (uneven density loss)."""
    rng = np.random.default_rng(3)
    (root / "scan").mkdir(parents=True)
    (root / "reference").mkdir()
    for index in range(frames):
        reference = np.clip(_scene(rng, size, size) + 0.2, 0.0, 1.0)
        scan = np.clip(_fade(reference) - _ramp(size), 0.0, 1.0)
        write_frame(root / "scan" / f"reel.{1001 + index:05d}.png", scan, PNG16)
        write_frame(root / "reference" / f"dvd.{1001 + index:05d}.png", reference, PNG16)


def _held_out_luma_error(root: Path, run: str, model_path: Path) -> tuple[float, float]:
    """Mean |luma − reference luma| of the held-out frame: (scan, restored through ONNX Runtime)."""
    import onnxruntime as ort

    held_out = json.loads((root / run / "pairs.json").read_text())["validation_frames"][0]
    scan, _ = read_frame(root / "scan" / f"reel.{held_out:05d}.png")
    reference, _ = read_frame(root / "reference" / f"dvd.{held_out:05d}.png")
    image = np.concatenate([scan, np.ones_like(scan[..., :1])], axis=2)[None].astype(np.float32)
    restored = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).run(
        ["restored"], {"image": image})[0][0, ..., :3]
    target = reference @ LUMA
    return float(np.abs(scan @ LUMA - target).mean()), float(np.abs(restored @ LUMA - target).mean())


@pytest.mark.slow
def test_smooth_density_learns_the_reference_density_a_plain_chroma_model_cannot(tmp_path: Path):
    _write_darkened_shots(tmp_path, frames=6, size=64)
    errors = {}
    for density in ("keep", "smooth"):
        model = train(_config(tmp_path, density, density=density, steps=120, crop=48, batch=4, val_frames=1,
                              learning_rate=5e-3, preview_every=120, checkpoint_every=120, export=True))
        errors[density] = _held_out_luma_error(tmp_path, density, model)
    scan_error, keep_error = errors["keep"]
    assert abs(keep_error - scan_error) < 2e-3  # a plain chroma model keeps the scan's luma, and its error
    assert errors["smooth"][1] < 0.4 * scan_error, errors
    card = json.loads(Path(tmp_path / "smooth" / "model.json").read_text())
    validation = card["metrics"]["validation"]
    assert validation["delta_e2000_reference_mean"] < json.loads(
        (tmp_path / "keep" / "model.json").read_text())["metrics"]["validation"]["delta_e2000_reference_mean"]


def test_density_is_refused_for_other_kinds_naming_the_flag(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _write_shots(tmp_path, frames=2)
    args = ["train", "--input", str(tmp_path / "scan"), "--target", str(tmp_path / "reference"), "--kind", "luma",
            "--density", "smooth", "--run-dir", str(tmp_path / "run"), "--steps", "1"]
    with caplog.at_level(logging.ERROR):
        assert main(args) == 2
    assert "--density smooth" in caplog.text and "--kind chroma" in caplog.text
    assert not (tmp_path / "run").exists()
    with pytest.raises(ParameterError, match="--density 'sharp'"):
        train(_config(tmp_path, density="sharp"))


def test_smooth_density_card_summary_info_export_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    _write_shots(tmp_path, frames=4)
    out = tmp_path / "reel.onnx"
    args = ["train", "--input", str(tmp_path / "scan"), "--target", str(tmp_path / "reference"), "--density",
            "smooth", "--run-dir", str(tmp_path / "run"), "--steps", "3", "--crop", "24", "--batch", "2",
            "--val-frames", "1", "--preview-every", "3", "--checkpoint-every", "3", "--out", str(out)]
    assert main(args) == 0
    card = read_model_contract(out).card
    assert card["model"]["architecture"]["density"] == "smooth" and card["model"]["density_band_px"] == 20
    assert read_model_contract(out).receptive_field == card["model"]["receptive_field"]
    assert "density: smooth (band-limited to 20 px)" in summary_line(card)
    assert "delta_e2000_reference_mean" in card["metrics"]["validation"]
    assert "Density     smooth (band-limited to 20 px)" in describe_card(card, str(out))
    assert main(["info", str(out)]) == 0
    assert "smooth (band-limited to 20 px)" in capsys.readouterr().out
    # resume: the checkpoint's architecture is carried; another density is refused before anything changes
    with pytest.raises(ParameterError, match="density 'smooth'"):
        resume(tmp_path / "run", steps=5, density="keep")
    assert load_latest(tmp_path / "run")["step"] == 3
    resume(tmp_path / "run", steps=5)
    state = load_latest(tmp_path / "run")
    assert state["step"] == 5 and state["architecture"]["density"] == "smooth"
    # --init from this model with another density is refused, and leaves no run folder behind
    with pytest.raises(ParameterError, match="--init model has density 'smooth'"):
        train(_config(tmp_path, "tuned", init=out, density="keep"))
    assert not (tmp_path / "tuned").exists()
    train(_config(tmp_path, "tuned", init=out, steps=1))  # without --density it keeps the model's
    assert load_latest(tmp_path / "tuned")["architecture"]["density"] == "smooth"


def test_plain_chroma_card_says_it_keeps_the_scan_luma(tmp_path: Path):
    _write_shots(tmp_path, frames=2)
    model = train(_config(tmp_path, steps=1, export=True, density="keep"))
    card = read_model_contract(model).card
    assert card["model"]["architecture"]["density"] == "keep" and "density_band_px" not in card["model"]
    assert "density: keep (scan luma unchanged)" in summary_line(card)
    old_card = {**card, "model": {**card["model"], "architecture": {"width": 24}}}  # before density existed
    assert "density" not in summary_line(old_card)


def test_smooth_training_loss_counts_luma_and_keep_does_not(rng: np.random.Generator):
    from chromaluma.models import build_model
    from chromaluma.train.objective import training_loss

    scan = torch.from_numpy(rng.random((2, 16, 16, 4), dtype=np.float32))
    reference = torch.from_numpy(rng.random((2, 16, 16, 3), dtype=np.float32))
    brighter = reference + 0.1  # same colour differences, more luma
    valid = torch.ones(2, 16, 16)
    with torch.no_grad():
        for density, changes in (("keep", False), ("smooth", True)):
            model = build_model("chroma", 0.25, {"density": density})
            same = torch.isclose(training_loss("chroma", model, scan, reference, valid),
                                 training_loss("chroma", model, scan, brighter, valid), atol=1e-6)
            assert bool(same) != changes, density
