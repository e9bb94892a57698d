"""`chromaluma train --temporal-radius N`: each pair's window of scan frames, shared crops, radius 0 unchanged.

Window tests use scan frames that hold one value everywhere: their frame number (in hundredths), plus 0.50 for
frames read from the scan source rather than the pairs folder, so a window's values say which frames it holds
and where each came from.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from chromaluma import cli
from chromaluma.contract import read_model_contract
from chromaluma.errors import ParameterError, SequenceError
from chromaluma.io import FrameFormat, write_frame
from chromaluma.train import TrainConfig, TrainingError, resume, train
from chromaluma.train.checkpoint import load_latest
from chromaluma.train.crops import sample_batch
from chromaluma.train.pairs import Pair, load_pairs
from chromaluma.train.windows import attach_windows, manifest_sources, number_shots_by_cuts

PNG16 = FrameFormat(".png", "uint16", 16, 3)
SOURCE_OFFSET = 50  # hundredths added to every scan-source frame
SIZE = 8


def _constant(value: float, size: int = SIZE) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.float32)


def _pairs_folder(root: Path, pair_frames: dict[int, list[int]], spans: dict[int, tuple[int, int]],
                  scan_source: str | None) -> Path:
    """A pairs folder (docs/CONTRACT.md §5): shot → its pairs' scan frames, shot → (first, last) scan frame."""
    folder = root / "pairs"
    (folder / "scan").mkdir(parents=True)
    (folder / "reference").mkdir()
    entries = []
    for shot, frames in pair_frames.items():
        for frame in frames:
            write_frame(folder / "scan" / f"{frame:05d}.png", _constant(frame / 100), PNG16)
            write_frame(folder / "reference" / f"{frame:05d}.png", _constant(0.9) * [1.0, 0.5, 0.2], PNG16)
            entries.append({"scan": f"scan/{frame:05d}.png", "reference": f"reference/{frame:05d}.png",
                            "mask": None, "scan_frame": frame, "reference_frame": frame, "shot": shot})
    manifest = {"format_version": 1, "scan_source": scan_source, "pairs": entries,
                "shots": [{"id": shot, "first_scan_frame": first, "last_scan_frame": last}
                          for shot, (first, last) in spans.items()]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _scan_source(root: Path, frames: list[int]) -> Path:
    folder = root / "source"
    folder.mkdir()
    for frame in frames:
        write_frame(folder / f"reel.{frame:05d}.png", _constant((frame + SOURCE_OFFSET) / 100), PNG16)
    return folder


def _windows(folder: Path, radius: int) -> dict[int, list[int]]:
    """Each pair's window as the values its frames hold (frame numbers, + SOURCE_OFFSET from the scan source)."""
    pairs = load_pairs("pairs", folder, None, None)
    source, spans = manifest_sources(folder)
    attach_windows(pairs, radius, source, spans)
    windows = {}
    for pair in pairs:
        frames = pair.window()
        assert len(frames) == 2 * radius + 1
        assert all(f.shape == (SIZE, SIZE, 4) and f.dtype == np.float32 and (f[..., 3] == 1.0).all() for f in frames)
        windows[pair.frame] = [int(round(float(f[..., :3].mean()) * 100)) for f in frames]
    return windows


def test_windows_take_the_shots_own_pairs_then_the_scan_source_and_never_cross_a_cut(tmp_path: Path):
    source = _scan_source(tmp_path, [n for n in range(8, 23) if n != 19])  # 19 is missing from the source too
    folder = _pairs_folder(tmp_path, {0: [10, 11, 13, 14], 1: [15, 17]}, {0: (10, 14), 1: (15, 20)}, str(source))
    s = SOURCE_OFFSET
    assert _windows(folder, 2) == {
        10: [10, 10, 10, 11, 12 + s],  # the shot's first frame: 8 and 9 lie before it (edge rule)
        11: [10, 10, 11, 12 + s, 13],
        13: [11, 12 + s, 13, 14, 14],  # 15 is the next shot's: the shot's last frame repeats
        14: [12 + s, 13, 14, 14, 14],
        15: [15, 15, 15, 16 + s, 17],  # 14 is the previous shot's
        17: [15, 16 + s, 17, 18 + s, 18 + s],  # 19 is nowhere: the nearest frame towards the centre
    }


def test_an_unreadable_scan_source_leaves_missing_neighbours_to_the_edge_rule(tmp_path: Path):
    folder = _pairs_folder(tmp_path, {0: [10, 11, 13, 14]}, {0: (10, 14)}, str(tmp_path / "moved-away"))
    windows = _windows(folder, 2)
    # 12 is missing: t−1 of frame 13 takes the centre, though t−2 (11) is there
    assert windows[13] == [11, 13, 13, 14, 14]
    assert windows[11] == [10, 10, 11, 11, 13]
    train(TrainConfig(run_dir=tmp_path / "run", kind="pairs", pairs_dir=folder, steps=1, crop=8, batch=1,
                      device="cpu", export=False, temporal_radius=2, architecture={"width": 8, "dilations": [1]}),
          progress=False)
    logged = [line for line in (tmp_path / "run" / "train.log").read_text().splitlines() if "edge rule" in line]
    assert len(logged) == 1 and "moved-away (not readable here: " in logged[0]
    assert "6 neighbours from the pairs' own scans, 0 from the scan source" in logged[0]
    assert "10 repeated by the edge rule" in logged[0]


def test_a_scan_source_frame_of_another_size_is_left_to_the_edge_rule(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture):
    source = _scan_source(tmp_path, [10, 11, 13, 14])
    write_frame(source / "reel.00012.png", np.full((SIZE + 2, SIZE, 3), 0.5, np.float32), PNG16)
    folder = _pairs_folder(tmp_path, {0: [11, 13]}, {0: (10, 14)}, str(source))
    with caplog.at_level(logging.WARNING, logger="chromaluma"):
        windows = _windows(folder, 1)
    assert windows == {11: [10 + SOURCE_OFFSET, 11, 11], 13: [13, 13, 14 + SOURCE_OFFSET]}
    assert any("frame 12 is 8×10" in r.getMessage() and "edge rule" in r.getMessage() for r in caplog.records)


def test_a_manifest_shot_that_is_not_a_number_is_refused(tmp_path: Path):
    folder = _pairs_folder(tmp_path, {0: [10]}, {0: (10, 10)}, None)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["pairs"][0]["shot"] = "A"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SequenceError, match=r"manifest.json: pair 0 has shot 'A', not a shot number"):
        load_pairs("pairs", folder, None, None)


def test_windows_share_one_array_per_scan_frame(tmp_path: Path):
    source = _scan_source(tmp_path, list(range(10, 15)))
    folder = _pairs_folder(tmp_path, {0: [10, 11, 13]}, {0: (10, 14)}, str(source))
    pairs = {p.frame: p for p in load_pairs("pairs", folder, None, None)}
    counts = attach_windows(list(pairs.values()), 1, *manifest_sources(folder))
    assert pairs[10].neighbours[1] is pairs[11].scan and pairs[11].neighbours[0] is pairs[10].scan
    assert pairs[11].neighbours[1] is pairs[13].neighbours[0]  # frame 12 of the scan source, read once
    assert (counts.from_pairs, counts.from_scan_source, counts.by_edge_rule) == (2, 3, 1)


def _shots(root: Path, frames: list[int], size: int = SIZE) -> None:
    (root / "scan").mkdir()
    (root / "reference").mkdir()
    for frame in frames:
        write_frame(root / "scan" / f"s.{frame:04d}.png", _constant(frame / 100, size), PNG16)
        write_frame(root / "reference" / f"r.{frame:04d}.png", _constant(0.8, size) * [1.0, 0.6, 0.3], PNG16)


def test_input_sequence_windows_stop_at_the_sequence_ends(tmp_path: Path):
    _shots(tmp_path, [1, 2, 3, 4, 5])
    pairs = load_pairs("pairs", None, tmp_path / "scan", tmp_path / "reference")
    attach_windows(pairs, 1)
    windows = {p.frame: [int(round(float(f.mean() * 100))) for f in (x[..., :3] for x in p.window())]
               for p in pairs}
    assert windows == {1: [1, 1, 2], 2: [1, 2, 3], 3: [2, 3, 4], 4: [3, 4, 5], 5: [4, 5, 5]}


def _panning_shots(root: Path, shots: int, frames: int, height: int = 64, width: int = 96) -> None:
    """`shots` still-camera shots of `frames` frames each (a picture panning one pixel a frame), numbered from 1."""
    import cv2

    rng = np.random.default_rng(2)
    (root / "scan").mkdir()
    (root / "reference").mkdir()
    for shot in range(shots):
        picture = cv2.GaussianBlur(rng.random((height + 16, width + 16), dtype=np.float32), (0, 0), 2.0)
        picture = (picture - picture.min()) / (picture.max() - picture.min())
        for index in range(frames):
            frame = 1 + shot * frames + index
            grey = np.repeat(np.roll(picture, index, axis=1)[8:8 + height, 8:8 + width, None], 3, axis=2)
            write_frame(root / "scan" / f"s.{frame:04d}.png", grey, PNG16)
            write_frame(root / "reference" / f"r.{frame:04d}.png", grey * np.float32([1.0, 0.7, 0.4]), PNG16)


def test_input_sequence_windows_stop_at_a_cut(tmp_path: Path):
    _panning_shots(tmp_path, 2, 4)
    pairs = load_pairs("pairs", None, tmp_path / "scan", tmp_path / "reference")
    assert number_shots_by_cuts(pairs) == 2
    attach_windows(pairs, 1)
    scan = {p.frame: p.scan for p in pairs}
    windows = {p.frame: p.window() for p in pairs}
    for frame, expected in ((4, (3, 4, 4)), (5, (5, 5, 6)), (2, (1, 2, 3))):
        assert all(np.array_equal(got, scan[want]) for got, want in zip(windows[frame], expected, strict=True))


def _old_sample_batch(pairs: list[Pair], size: int, batch: int, rng: np.random.Generator):
    """The single-frame sampler as it was before temporal windows (copied, not imported): radius 0 must give
    exactly these crops for the same generator."""
    scans, references, valids = [], [], []
    for _ in range(batch):
        pair = pairs[int(rng.integers(len(pairs)))]
        height, width = pair.scan.shape[:2]
        top = int(rng.integers(height - size + 1))
        left = int(rng.integers(width - size + 1))
        flip_x, flip_y = bool(rng.integers(2)), bool(rng.integers(2))
        window = (slice(top, top + size), slice(left, left + size))
        parts = [pair.scan[window], pair.reference[window], pair.valid[window]]
        if flip_x:
            parts = [p[:, ::-1] for p in parts]
        if flip_y:
            parts = [p[::-1] for p in parts]
        scans.append(parts[0])
        references.append(parts[1])
        valids.append(parts[2])
    return np.stack(scans), np.stack(references), np.stack(valids)


def _random_pairs(rng: np.random.Generator, count: int = 3, height: int = 20, width: int = 28) -> list[Pair]:
    pairs = []
    for frame in range(count):
        scan = rng.random((height, width, 4), dtype=np.float32)
        scan[..., 3] = 1.0
        pairs.append(Pair(frame, scan, rng.random((height, width, 3), dtype=np.float32),
                          (rng.random((height, width)) > 0.3).astype(np.float32)))
    return pairs


def test_radius_zero_draws_exactly_the_single_frame_crops(rng: np.random.Generator):
    pairs = _random_pairs(rng)
    new, old = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(5):
        got = sample_batch(pairs, 12, 4, new)
        expected = _old_sample_batch(pairs, 12, 4, old)
        for tensor, array in zip(got, expected, strict=True):
            assert tuple(tensor.shape) == array.shape and np.array_equal(tensor.numpy(), array)
    assert new.bit_generator.state == old.bit_generator.state


def _drawn(pairs: list[Pair], seed: int, batch: int) -> dict:
    """The generator's state after the single-frame sampler's draws for `batch` crops."""
    generator = np.random.default_rng(seed)
    _old_sample_batch(pairs, 10, batch, generator)
    return generator.bit_generator.state


def test_every_frame_of_a_window_is_cut_and_flipped_alike(rng: np.random.Generator):
    pairs = _random_pairs(rng)
    for pair in pairs:  # frame t+k = the centre's pixels + k: any other crop or flip of a neighbour shows
        pair.neighbours = tuple(pair.scan + np.array([k, k, k, 0], np.float32) for k in (-2, -1, 1, 2))
    scans, references, valids = sample_batch(pairs, 10, 16, np.random.default_rng(3), radius=2)
    assert tuple(scans.shape) == (16, 5, 10, 10, 4) and tuple(references.shape) == (16, 10, 10, 3)
    centre = scans[:, 2]
    for index, k in enumerate((-2, -1, 0, 1, 2)):
        assert torch.allclose(scans[:, index, ..., :3] - k, centre[..., :3], atol=1e-5)
    # the centre is the pair's own scan, cut where its reference and mask are cut
    single = sample_batch(pairs, 10, 16, np.random.default_rng(3))
    assert torch.equal(centre, single[0]) and torch.equal(references, single[1]) and torch.equal(valids, single[2])


def test_exposure_jitter_scales_each_scan_frame_alone_and_leaves_the_reference(rng: np.random.Generator):
    pairs = _random_pairs(rng)
    for pair in pairs:
        pair.neighbours = (pair.scan.copy(), pair.scan.copy())

    def crops(jitter: float) -> list[torch.Tensor]:  # one crop per seed: the jitter's draws come after the crop's
        batches = [sample_batch(pairs, 10, 1, np.random.default_rng(seed), 1, jitter) for seed in range(8)]
        return [torch.cat(parts) for parts in zip(*batches, strict=True)]

    plain, jittered = crops(0.0), crops(0.2)
    assert torch.equal(plain[1], jittered[1]) and torch.equal(plain[2], jittered[2])
    assert torch.equal(plain[0][..., 3], jittered[0][..., 3])
    gains = (jittered[0][..., :3] / plain[0][..., :3]).reshape(8, 3, -1)
    assert torch.allclose(gains, gains[..., :1].expand_as(gains), rtol=1e-5)  # one gain per frame
    per_frame = gains[..., 0]
    assert (per_frame[:, 0] != per_frame[:, 1]).all() and (per_frame[:, 1] != per_frame[:, 2]).all()
    assert 0.05 < float(per_frame.log().std()) < 0.5
    # off: no draw at all, so a seed gives the crops it always gave
    generator = np.random.default_rng(3)
    sample_batch(pairs, 10, 8, generator, radius=1, exposure_jitter=0.0)
    assert generator.bit_generator.state == _drawn(pairs, 3, 8)


def _config(root: Path, run: str = "run", **overrides) -> TrainConfig:
    values = {"run_dir": root / run, "kind": "pairs", "input": root / "scan", "target": root / "reference",
              "steps": 2, "crop": 16, "batch": 1, "preview_every": 100, "checkpoint_every": 1, "export": False,
              "device": "cpu", "architecture": {"width": 8, "dilations": [1]}}
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.slow
def test_train_with_radius_one_writes_a_three_frame_model(tmp_path: Path):
    _panning_shots(tmp_path, 1, 4, 24, 32)
    out = tmp_path / "model.onnx"
    code = cli.main(["train", "--kind", "pairs", "--input", str(tmp_path / "scan"), "--target",
                     str(tmp_path / "reference"), "--run-dir", str(tmp_path / "run"), "--temporal-radius", "1",
                     "--exposure-jitter", "0.05", "--steps", "3", "--crop", "16", "--batch", "1", "--device", "cpu",
                     "--no-progress", "--out", str(out)])
    assert code == 0
    found = read_model_contract(out)
    assert found.frames_before == found.frames_after == 1
    assert found.card["model"]["architecture"]["temporal_radius"] == 1
    parameters = found.card["training"]["parameters"]
    assert parameters["temporal_radius"] == 1 and parameters["exposure_jitter"] == 0.05
    # fine-tuning the exported model keeps its radius (read from its card), without being told
    train(_config(tmp_path, "tuned", init=out, architecture={}), progress=False)
    assert load_latest(tmp_path / "tuned")["architecture"]["temporal_radius"] == 1


def test_resume_and_init_keep_the_runs_radius(tmp_path: Path):
    _panning_shots(tmp_path, 1, 3, 16, 24)
    train(_config(tmp_path, temporal_radius=1), progress=False)
    logged = [line for line in (tmp_path / "run" / "train.log").read_text().splitlines() if "edge rule" in line]
    assert len(logged) == 1 and "4 neighbours from the pairs' own scans" in logged[0]
    assert "2 repeated by the edge rule" in logged[0]
    with pytest.raises(ParameterError, match="temporal radius 1"):
        resume(tmp_path / "run", steps=3, temporal_radius=0, progress=False)
    with pytest.raises(TrainingError, match="--exposure-jitter 0.1: the run in .* trains with --exposure-jitter 0"):
        resume(tmp_path / "run", steps=3, exposure_jitter=0.1, progress=False)
    assert load_latest(tmp_path / "run")["step"] == 2
    resume(tmp_path / "run", steps=3, progress=False)
    state = load_latest(tmp_path / "run")
    assert state["step"] == 3 and state["architecture"]["temporal_radius"] == 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["temporal_radius"] == 1
    # --init: the model's own radius, without being told; another one is refused before any folder is made
    train(_config(tmp_path, "tuned", init=tmp_path / "run"), progress=False)
    assert load_latest(tmp_path / "tuned")["architecture"]["temporal_radius"] == 1
    with pytest.raises(ParameterError, match="--temporal-radius 2"):
        train(_config(tmp_path, "refused", init=tmp_path / "run", temporal_radius=2), progress=False)
    assert not (tmp_path / "refused").exists()


@pytest.mark.parametrize(("flag", "value"), [("--temporal-radius", "9"), ("--temporal-radius", "-1"),
                                             ("--temporal-radius", "1.5"), ("--exposure-jitter", "-0.1"),
                                             ("--exposure-jitter", "nan"), ("--exposure-jitter", "lots")])
def test_bad_window_flags_exit_2_with_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture, flag: str,
                                               value: str):
    _shots(tmp_path, [1, 2])
    with caplog.at_level(logging.INFO, logger="chromaluma"):
        code = cli.main(["train", "--input", str(tmp_path / "scan"), "--target", str(tmp_path / "reference"),
                         "--run-dir", str(tmp_path / "run"), flag, value, "--steps", "1"])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2 and len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith(f"{flag} ") and value in errors[0]
    assert not (tmp_path / "run").exists()


def test_a_bad_radius_prints_one_line_and_no_traceback(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "chromaluma.cli", "train", "--input", str(tmp_path / "scan"),
                             "--target", str(tmp_path / "reference"), "--temporal-radius", "two"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ERROR chromaluma: --temporal-radius 'two': give a whole number, e.g. --temporal-radius 1."]
