"""`chromaluma apply` with a temporal-window model (docs/CONTRACT.md §1.6): which input frames each output frame
sees, at the shot's ends, across `--frames` boundaries and around unreadable frames; each input frame decoded
once; farm tasks and resumed renders byte-identical to one whole render."""

from __future__ import annotations

import json
import shutil
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chromaluma import contract
from chromaluma.backend import restore
from chromaluma.cli import main
from chromaluma.errors import FrameReadError
from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.io.sequence import Shot
from model_fixtures import pointwise_model, window_model

FRAMES = (1001, 1002, 1003, 1004, 1005, 1006)
PNG16 = FrameFormat(".png", "uint16", 16, 3)
WHOLE_WINDOWS = {1001: (None, 1002), 1002: (1001, 1003), 1003: (1002, 1004), 1004: (1003, 1005),
                 1005: (1004, 1006), 1006: (1005, None)}


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A luma model reading one frame before and one after, with small random weights: every frame of its window
    changes its output, by far more than one code of the 16-bit PNG frames it writes."""
    model = window_model(tmp_path_factory.mktemp("temporal_models") / "luma_window.onnx", kind="luma", radius=1,
                         std=0.01)
    rng = np.random.default_rng(3)
    frames = [rng.random((20, 24, 3), dtype=np.float32) for _ in range(3)]
    outputs = []
    for neighbours in ([frames[0], frames[2]], [frames[0], None], [None, frames[2]]):
        outputs.append(np.empty_like(frames[1]))
        restore.process_frame(frames[1], outputs[-1], {"model": str(model), "neighbours": neighbours})
    stored = [np.clip(out, 0, 1) for out in outputs]  # what a 16-bit PNG keeps
    assert min(np.abs(stored[0] - out).max() for out in stored[1:]) > 100 / 65535
    return model


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    folder = tmp_path / "scan"
    folder.mkdir()
    rng = np.random.default_rng(18)
    for frame in FRAMES:
        write_frame(folder / f"shot.{frame}.png", rng.random((20, 24, 3), np.float32), PNG16)
    return folder


def _apply(model: Path, scan: Path, out: Path, *extra: str) -> int:
    """apply on these scans of unrelated random frames, which are all cuts to the cut survey: `--cuts none` unless
    the test says otherwise (test_apply_cuts.py renders real shots with cuts)."""
    cuts = () if "--cuts" in extra else ("--cuts", "none")
    return main(["apply", "--model", str(model), "--input", str(scan), "--output", str(out), "--no-progress",
                 *cuts, *extra])


def _outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def _log(out: Path, name: str = "chromaluma-render.json") -> dict[str, Any]:
    return json.loads((out / name).read_text())


def _record_windows(monkeypatch: pytest.MonkeyPatch, scan: Path) -> dict[int, Any]:
    """Watch every frame apply hands to the backend: {frame rendered: (frame numbers of its neighbours, None for
    a None entry)}, or "absent" when params holds no neighbours. Frames are told apart by their pixels."""
    inputs = {}
    for path in sorted(scan.glob("*.png")):
        try:
            inputs[int(path.stem.split(".")[1])] = read_frame(path)[0]
        except FrameReadError:  # a corrupt frame reaches the backend as None or not at all
            continue

    def which(pixels: np.ndarray) -> int:
        (frame,) = [number for number, candidate in inputs.items() if np.array_equal(candidate, pixels)]
        return frame

    seen: dict[int, Any] = {}
    original = restore.process_frame

    def recording(src: np.ndarray, dst: np.ndarray, params: dict[str, Any], confidence: Any = None) -> Any:
        given = params.get("neighbours", "absent")
        seen[which(src)] = given if given == "absent" else tuple(None if n is None else which(n) for n in given)
        return original(src, dst, params, confidence=confidence)

    monkeypatch.setattr(restore, "process_frame", recording)
    return seen


def test_each_frame_sees_its_window_and_none_beyond_the_shot(tmp_path, scan, windowed, monkeypatch):
    seen = _record_windows(monkeypatch, scan)
    out = tmp_path / "restored"
    assert _apply(windowed, scan, out) == 0
    assert seen == WHOLE_WINDOWS
    log = _log(out)
    assert log["status"] == "complete"
    assert (log["model"]["frames_before"], log["model"]["frames_after"]) == (1, 1)
    first, third = log["frames"][0], log["frames"][2]
    assert [item["input"] for item in first["context"]] == ["shot.1002.png"]
    assert [(item["input"], item["input_sha256"]) for item in third["context"]] == [
        (name, contract.file_sha256(scan / name)) for name in ("shot.1002.png", "shot.1004.png")]


def test_a_gap_in_the_numbering_is_no_frame_at_that_time(tmp_path, scan, windowed, monkeypatch):
    (scan / "shot.1003.png").unlink()  # e.g. a frame the scanner dropped: 1002 is not 1004's previous frame
    seen = _record_windows(monkeypatch, scan)
    assert _apply(windowed, scan, tmp_path / "restored") == 0
    assert seen[1002] == (1001, None) and seen[1004] == (None, 1005)


@pytest.mark.parametrize("frames, windows", [
    ("1003-1004", {1003: (1002, 1004), 1004: (1003, 1005)}),
    ("1006-1009", {1006: (1005, None)}),
    ("990-1001", {1001: (None, 1002)}),
])
def test_frames_range_reads_context_outside_it_but_writes_only_its_frames(tmp_path, scan, windowed, monkeypatch,
                                                                          frames, windows):
    before = _outputs(scan)
    seen = _record_windows(monkeypatch, scan)
    out = tmp_path / "restored"
    assert _apply(windowed, scan, out, "--frames", frames) == 0
    assert seen == windows
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [f"shot.{frame}.png" for frame in windows] + [f"chromaluma-render.{frames}.json"])
    assert _outputs(scan) == before


def test_each_input_frame_is_decoded_once_and_only_one_window_is_held(tmp_path, scan, windowed, monkeypatch):
    reads: list[int] = []
    alive: list[weakref.ref] = []
    most_held = 0
    original = Shot.read

    def counting(shot: Shot, index: int) -> np.ndarray:
        nonlocal most_held
        most_held = max(most_held, sum(ref() is not None for ref in alive))
        pixels = original(shot, index)
        reads.append(shot.frame_ids[index])
        alive.append(weakref.ref(pixels))
        return pixels

    monkeypatch.setattr(Shot, "read", counting)
    assert _apply(windowed, scan, tmp_path / "whole") == 0
    assert sorted(reads) == list(FRAMES)
    assert most_held <= 2  # when a frame is read, the window keeps only the two frames the next window shares
    reads.clear()
    assert _apply(windowed, scan, tmp_path / "range", "--frames", "1003-1004") == 0
    assert sorted(reads) == [1002, 1003, 1004, 1005]  # 1001 and 1006 are in no window of 1003-1004


def test_farm_ranges_and_resume_give_the_bytes_of_one_whole_render(tmp_path, scan, windowed):
    whole = tmp_path / "whole"
    assert _apply(windowed, scan, whole) == 0
    expected = _outputs(whole)
    first, second, shared = tmp_path / "first", tmp_path / "second", tmp_path / "shared"
    assert _apply(windowed, scan, first, "--frames", "1001-1003") == 0
    assert _apply(windowed, scan, second, "--frames", "1004-1006") == 0
    assert {**_outputs(first), **_outputs(second)} == expected
    for frames in ("1004-1006", "1001-1003"):  # two farm tasks into one folder, in either order
        assert _apply(windowed, scan, shared, "--frames", frames) == 0
    assert _outputs(shared) == expected
    resumed = tmp_path / "resumed"
    shutil.copytree(whole, resumed)
    for frame in (1003, 1004):  # as if killed after frame 1002: the rest is rendered beside kept frames
        (resumed / f"shot.{frame}.png").unlink()
    assert _apply(windowed, scan, resumed, "--resume") == 0
    assert _outputs(resumed) == expected
    assert _log(resumed)["resumed"][-1]["kept_frames"] == 4


def test_video_windows_span_farm_ranges_and_resume(tmp_path, windowed):
    import av

    video = tmp_path / "telecine.mp4"
    rng = np.random.default_rng(9)
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(4):
            picture = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)

    def tiffs(folder: Path) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in sorted(folder.glob("*.tif"))}

    whole, farm = tmp_path / "whole", tmp_path / "farm"
    assert _apply(windowed, video, whole) == 0
    assert len(tiffs(whole)) == 4
    for frames in ("2-3", "0-1"):
        assert _apply(windowed, video, farm, "--frames", frames) == 0
    assert tiffs(farm) == tiffs(whole)
    (whole / "telecine.000002.tif").unlink()
    assert _apply(windowed, video, whole, "--resume") == 0
    assert tiffs(whole) == tiffs(farm)
    log = _log(whole)
    assert [item["input"] for item in log["frames"][2]["context"]] == ["telecine.mp4#1", "telecine.mp4#3"]


def test_resume_renders_again_every_frame_whose_window_changed(tmp_path, scan, windowed):
    out = tmp_path / "restored"
    assert _apply(windowed, scan, out) == 0
    rng = np.random.default_rng(5)
    write_frame(scan / "shot.1004.png", rng.random((20, 24, 3), np.float32), PNG16)  # the restorer re-scans 1004
    assert _apply(windowed, scan, out, "--resume") == 0
    assert _log(out)["resumed"][-1]["kept_frames"] == 3  # 1001, 1002, 1006: 1004 is not in their windows
    fresh = tmp_path / "fresh"
    assert _apply(windowed, scan, fresh) == 0
    assert _outputs(out) == _outputs(fresh)


def test_an_unreadable_neighbour_is_no_frame_logged_and_resume_finishes(tmp_path, scan, windowed, monkeypatch,
                                                                        caplog):
    clean = tmp_path / "clean"
    assert _apply(windowed, scan, clean) == 0
    good = (scan / "shot.1003.png").read_bytes()
    (scan / "shot.1003.png").write_bytes(good[: len(good) // 2])
    seen = _record_windows(monkeypatch, scan)
    out = tmp_path / "restored"
    assert _apply(windowed, scan, out) == 2
    assert seen[1002] == (1001, None) and seen[1004] == (None, 1005)  # the edge rule, as at the shot's ends
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "shot.1003.png" in r.getMessage()]
    assert any(message.startswith("frame 1002 rendered without its neighbour shot.1003.png") for message in warned)
    message = caplog.records[-1].getMessage()
    assert "1 of 6 input frame(s) could not be read" in message
    assert "2 frame(s) beside them (shot.1002.png, shot.1004.png) were rendered without them" in message
    assert "\n" not in message
    log = _log(out)
    assert log["status"] == "failed"
    blind = {entry["frame"]: [item["input"] for item in entry["missing_context"]]
             for entry in log["frames"] if "missing_context" in entry}
    assert blind == {1002: ["shot.1003.png"], 1004: ["shot.1003.png"]}
    monkeypatch.undo()
    (scan / "shot.1003.png").write_bytes(good)  # the restorer re-scans the frame
    assert _apply(windowed, scan, out, "--resume") == 0
    assert _log(out)["status"] == "complete"
    assert _outputs(out) == _outputs(clean)


def test_an_unreadable_context_frame_outside_the_range_fails_the_task_naming_it(tmp_path, scan, windowed, caplog):
    (scan / "shot.1003.png").write_bytes(b"not a png")
    out = tmp_path / "restored"
    assert _apply(windowed, scan, out, "--frames", "1004-1006") == 2
    message = caplog.records[-1].getMessage()
    assert message.startswith("1 frame(s) (shot.1004.png) were rendered without neighbouring frame(s) that cannot "
                              "be read (shot.1003.png; first: ")
    assert "--resume" in message and "\n" not in message
    assert sorted(path.name for path in out.glob("*.png")) == ["shot.1004.png", "shot.1005.png", "shot.1006.png"]
    (scan / "shot.1003.png").unlink()  # the frame is lost for good: rendering without it is the answer
    assert _apply(windowed, scan, out, "--frames", "1004-1006", "--resume") == 0
    log = _log(out, "chromaluma-render.1004-1006.json")
    assert log["status"] == "complete" and log["resumed"][-1]["kept_frames"] == 2


def test_single_frame_model_gets_no_neighbours(tmp_path, scan, monkeypatch):
    model = pointwise_model(tmp_path / "pointwise.onnx")
    seen = _record_windows(monkeypatch, scan)
    out = tmp_path / "restored"
    assert _apply(model, scan, out, "--frames", "1002-1003") == 0
    assert seen == {1002: "absent", 1003: "absent"}
    log = _log(out, "chromaluma-render.1002-1003.json")
    assert (log["model"]["frames_before"], log["model"]["frames_after"]) == (0, 0)
    assert all("context" not in entry for entry in log["frames"])
