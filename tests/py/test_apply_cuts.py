"""`chromaluma apply` with a window model on a reel of several shots (docs/CONTRACT.md §1.6): each frame's window
stops at the cuts (`--cuts auto`, the default), so the frames beside a cut render as if their shot were alone;
farm ranges find the same cuts and give the bytes of one whole render; `--cuts none` reaches across them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chromaluma.cli import main
from chromaluma.io import FrameFormat, write_frame
from chromaluma.io.sequence import Shot
from chromaluma.synth.shots import handheld_shot
from model_fixtures import window_model

PNG16 = FrameFormat(".png", "uint16", 16, 3)
SIZE = (256, 144)
FIRST_SHOT = tuple(range(101, 107))  # six frames of one handheld shot …
SECOND_SHOT = tuple(range(107, 112))  # … cut to five of another


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return window_model(tmp_path_factory.mktemp("cut_models") / "luma_window.onnx", kind="luma", radius=2,
                        std=0.01)


@pytest.fixture(scope="module")
def shots() -> dict[str, list[np.ndarray]]:
    return {"first": handheld_shot("chelsea", len(FIRST_SHOT), *SIZE, seed=21),
            "second": handheld_shot("coffee", len(SECOND_SHOT), *SIZE, seed=22)}


def _sequence(folder: Path, frames: dict[int, np.ndarray]) -> Path:
    folder.mkdir()
    for number, pixels in frames.items():
        write_frame(folder / f"reel.{number}.png", pixels, PNG16)
    return folder


@pytest.fixture
def reel(tmp_path: Path, shots: dict[str, list[np.ndarray]]) -> Path:
    return _sequence(tmp_path / "reel", {**dict(zip(FIRST_SHOT, shots["first"], strict=True)),
                                         **dict(zip(SECOND_SHOT, shots["second"], strict=True))})


def _apply(model: Path, scan: Path, out: Path, *extra: str) -> int:
    return main(["apply", "--model", str(model), "--input", str(scan), "--output", str(out), "--no-progress",
                 *extra])


def _outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def test_windows_stop_at_the_cut_so_each_shot_renders_as_if_alone(tmp_path, reel, shots, windowed):
    whole = tmp_path / "whole"
    assert _apply(windowed, reel, whole) == 0
    log = json.loads((whole / "chromaluma-render.json").read_text())
    assert log["shot_starts"] == [SECOND_SHOT[0]] and log["parameters"]["cuts"] == "auto"
    alone = {}
    for name, numbers in (("first", FIRST_SHOT), ("second", SECOND_SHOT)):
        folder = _sequence(tmp_path / f"{name}_scan", dict(zip(numbers, shots[name], strict=True)))
        assert _apply(windowed, folder, tmp_path / f"{name}_alone") == 0
        alone.update(_outputs(tmp_path / f"{name}_alone"))
    assert _outputs(whole) == alone
    across = tmp_path / "across"
    assert _apply(windowed, reel, across, "--cuts", "none") == 0
    beside_cut = {f"reel.{number}.png" for number in (*FIRST_SHOT[-2:], *SECOND_SHOT[:2])}
    differs = {name for name, data in _outputs(across).items() if data != alone[name]}
    assert differs == beside_cut  # reaching across the cut changes exactly the frames whose window it crosses


def test_farm_ranges_find_the_same_cuts_as_one_whole_render(tmp_path, reel, windowed):
    whole = tmp_path / "whole"
    assert _apply(windowed, reel, whole) == 0
    shared = tmp_path / "farm"
    for frames in ("106-107", "101-103", "108-111", "104-105"):
        assert _apply(windowed, reel, shared, "--frames", frames) == 0
    assert _outputs(shared) == _outputs(whole)


def test_a_resume_with_another_cut_rule_is_refused(tmp_path, reel, windowed, caplog):
    out = tmp_path / "restored"
    assert _apply(windowed, reel, out, "--cuts", "none") == 0
    (out / "reel.106.png").unlink()
    assert _apply(windowed, reel, out, "--resume") == 2
    (error,) = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert "\n" not in error and "--cuts ('none' in the log, 'auto' now)" in error
    assert _apply(windowed, reel, out, "--resume", "--cuts", "none") == 0


def test_one_shot_has_no_cuts_and_each_frame_is_decoded_at_most_twice(tmp_path, shots, windowed, monkeypatch):
    scan = _sequence(tmp_path / "scan", dict(zip(FIRST_SHOT, shots["first"], strict=True)))
    reads: list[int] = []
    original = Shot.read

    def counting(shot: Shot, index: int) -> np.ndarray:
        reads.append(shot.frame_ids[index])
        return original(shot, index)

    monkeypatch.setattr(Shot, "read", counting)
    out = tmp_path / "restored"
    assert _apply(windowed, scan, out) == 0
    assert json.loads((out / "chromaluma-render.json").read_text())["shot_starts"] == []
    assert sorted(set(reads)) == list(FIRST_SHOT) and max(reads.count(n) for n in FIRST_SHOT) == 2  # survey + render
    reads.clear()
    assert _apply(windowed, scan, tmp_path / "told", "--cuts", "none") == 0
    assert sorted(reads) == list(FIRST_SHOT)  # told it is one shot: each frame read once


def test_an_unknown_cut_rule_is_refused_in_one_line(tmp_path, reel, windowed, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _apply(windowed, reel, tmp_path / "out", "--cuts", "sometimes")
    assert exit_info.value.code == 2
    assert "--cuts" in capsys.readouterr().err
