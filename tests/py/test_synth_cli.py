"""`chromaluma synth` end to end on a tiny generated clean sequence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chromaluma.cli import main
from chromaluma.io import FrameFormat, read_frame, write_frame


def _clean_sequence(folder: Path, rng: np.random.Generator) -> list[np.ndarray]:
    folder.mkdir()
    frames = []
    for frame_id in (101, 102):
        frame = np.clip(rng.uniform(0.2, 0.8, (1, 1, 3)) + rng.normal(0, 0.05, (24, 40, 3)), 0, 1)
        write_frame(folder / f"clean.{frame_id}.png", frame.astype(np.float32), FrameFormat(".png", "uint16", 16, 3))
        frames.append(frame)
    return frames


def test_synth_writes_scan_truth_and_dvd_reference(tmp_path: Path, rng: np.random.Generator) -> None:
    frames = _clean_sequence(tmp_path / "clean", rng)
    out = tmp_path / "out"
    status = main(["synth", "--input", str(tmp_path / "clean"), "--out", str(out), "--fade", "0.6",
                   "--reference", "dvd", "--damage", "0.3", "--generation", "1", "--seed", "7"])
    assert status == 0
    truth, _ = read_frame(out / "truth" / "00101.png")
    np.testing.assert_allclose(truth, frames[0], atol=1.0 / 65535)
    scan, _ = read_frame(out / "scan" / "00102.png")
    assert scan.shape == frames[1].shape and np.abs(scan - frames[1]).mean() > 0.02
    reference, _ = read_frame(out / "reference" / "00000.png")
    assert reference.shape[:2] == (576, 720)
    record = json.loads((out / "synth.json").read_text())
    assert record["degradation"]["seed"] == 7 and record["degradation"]["fade"] == 0.6
    assert json.loads((out / "reference_truth.json").read_text())["fps"] == 25.0
    assert not [p for p in out.rglob("*") if "partial" in p.name]

    again = tmp_path / "again"
    main(["synth", "--input", str(tmp_path / "clean"), "--out", str(again), "--fade", "0.6", "--damage", "0.3",
          "--generation", "1", "--seed", "7"])
    np.testing.assert_array_equal(read_frame(again / "scan" / "00102.png")[0], scan)


def test_synth_aligned_reference_is_a_trainable_pairs_folder(tmp_path: Path, rng: np.random.Generator) -> None:
    _clean_sequence(tmp_path / "clean", rng)
    out = tmp_path / "out"
    assert main(["synth", "--input", str(tmp_path / "clean"), "--out", str(out), "--reference", "aligned"]) == 0
    manifest = json.loads((out / "pairs" / "manifest.json").read_text())
    assert [pair["scan_frame"] for pair in manifest["pairs"]] == [101, 102]
    scan, _ = read_frame(out / "pairs" / manifest["pairs"][0]["scan"])
    reference, _ = read_frame(out / "pairs" / manifest["pairs"][0]["reference"])
    assert scan.shape == reference.shape


def test_synth_refuses_a_bad_fade_with_exit_status_2(tmp_path: Path, rng: np.random.Generator) -> None:
    _clean_sequence(tmp_path / "clean", rng)
    assert main(["synth", "--input", str(tmp_path / "clean"), "--out", str(tmp_path / "o"), "--fade", "2"]) == 2


def test_synth_uneven_is_recorded_and_checked(tmp_path: Path, rng: np.random.Generator) -> None:
    _clean_sequence(tmp_path / "clean", rng)
    out = tmp_path / "out"
    assert main(["synth", "--input", str(tmp_path / "clean"), "--out", str(out), "--uneven", "1"]) == 0
    assert json.loads((out / "synth.json").read_text())["degradation"]["uneven"] == 1.0
    assert main(["synth", "--input", str(tmp_path / "clean"), "--out", str(tmp_path / "o"), "--uneven", "2"]) == 2
