"""Bad training input: each refusal names the file and the fix, and leaves no run folder behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chromaluma.errors import ChromalumaError, DeviceError, FrameReadError, PairMismatchError, SequenceError
from chromaluma.io import FrameFormat, write_frame
from chromaluma.train import TrainConfig, TrainingError, train
from chromaluma.train.initial import initial_weights

PNG16 = FrameFormat(".png", "uint16", 16, 3)


def _shot(folder: Path, frames: int, height: int = 24, width: int = 32, channels: int = 3, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frame_format = FrameFormat(".png", "uint16", 16, channels)
    for index in range(frames):
        write_frame(folder / f"f.{index + 1:04d}.png", rng.random((height, width, channels), dtype=np.float32),
                    frame_format)
    return folder


def _config(tmp_path: Path, **overrides) -> TrainConfig:
    values = {"run_dir": tmp_path / "run", "input": tmp_path / "scan", "target": tmp_path / "reference", "steps": 2,
              "crop": 16, "batch": 1, "export": False}
    values.update(overrides)
    return TrainConfig(**values)


def _refused(tmp_path: Path, error: type[ChromalumaError], *fragments: str, **overrides) -> str:
    with pytest.raises(error) as caught:
        train(_config(tmp_path, **overrides))
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not (tmp_path / "run").exists(), "a refused run must not leave a run folder"
    return message


def test_unequal_frame_counts(tmp_path: Path):
    _shot(tmp_path / "scan", 3)
    _shot(tmp_path / "reference", 2)
    _refused(tmp_path, PairMismatchError, str(tmp_path / "scan"), "3 frames", "has 2", "chromaluma align")


def test_unequal_frame_sizes(tmp_path: Path):
    _shot(tmp_path / "scan", 2)
    _shot(tmp_path / "reference", 2, height=20)
    _refused(tmp_path, PairMismatchError, "f.0001.png", "32×20", "32×24", "chromaluma align")


def test_truncated_frame(tmp_path: Path):
    _shot(tmp_path / "scan", 2)
    _shot(tmp_path / "reference", 2)
    damaged = tmp_path / "reference" / "f.0002.png"
    damaged.write_bytes(damaged.read_bytes()[:120])
    _refused(tmp_path, FrameReadError, str(damaged), "Re-export")


def test_greyscale_target_for_a_chroma_model(tmp_path: Path):
    _shot(tmp_path / "scan", 2)
    _shot(tmp_path / "reference", 2, channels=1)
    message = _refused(tmp_path, PairMismatchError, "f.0001.png", "greyscale", "--kind luma")
    assert "reference" in message
    train(_config(tmp_path, kind="luma"))  # the same pairs are fine for a luma model


def test_empty_folder(tmp_path: Path):
    _shot(tmp_path / "scan", 2)
    (tmp_path / "reference").mkdir()
    _refused(tmp_path, SequenceError, str(tmp_path / "reference"), "no frames found")


def test_pairs_folder_without_manifest(tmp_path: Path):
    (tmp_path / "pairs").mkdir()
    _refused(tmp_path, SequenceError, "manifest.json", "chromaluma align", pairs_dir=tmp_path / "pairs", input=None,
             target=None)


def test_init_from_a_model_of_another_kind(tmp_path: Path):
    _shot(tmp_path / "scan", 2)
    _shot(tmp_path / "reference", 2)
    train(_config(tmp_path, run_dir=tmp_path / "luma_run", kind="luma"))
    with pytest.raises(ChromalumaError, match=r"luma_run is a luma model.*trains a chroma model.*--kind luma"):
        train(_config(tmp_path, init=tmp_path / "luma_run"))
    assert not (tmp_path / "run").exists()
    assert initial_weights(tmp_path / "luma_run", "luma").kind == "luma"  # the right kind is accepted


def test_gpu_asked_for_without_one(tmp_path: Path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    _shot(tmp_path / "scan", 2)
    _shot(tmp_path / "reference", 2)
    _refused(tmp_path, DeviceError, "--device gpu", "--device auto", device="gpu")


def test_a_used_run_folder_is_not_overwritten(tmp_path: Path):
    _shot(tmp_path / "scan", 2)
    _shot(tmp_path / "reference", 2)
    train(_config(tmp_path))
    config_before = (tmp_path / "run" / "config.json").read_bytes()
    with pytest.raises(TrainingError, match=r"already holds a training run.*--resume"):
        train(_config(tmp_path, steps=5))
    assert (tmp_path / "run" / "config.json").read_bytes() == config_before


@pytest.mark.parametrize(("flag", "value", "fragment"), [("crop", 0, "--crop"), ("processing_scale", 1.5,
                                                                                  "--processing-scale"),
                                                         ("kind", "sepia", "--kind")])
def test_bad_parameters_name_their_flag(tmp_path: Path, flag: str, value: object, fragment: str):
    _refused(tmp_path, ChromalumaError, fragment, **{flag: value})
