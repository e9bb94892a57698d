"""`chromaluma composite`: two synthetically damaged prints of one clean shot merge into a frame closer to the
clean shot than either print; the source map names the undamaged print where the other is damaged; bad input
is one line and exit 2 with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from chromaluma.cli import main
from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.synth.damage import DamageStatistics, ShotDamage
from chromaluma.synth.shots import CameraMove, photo_shot

WIDTH, HEIGHT, FRAMES = 160, 120, 4
SHIFT = (2.5, -1.5)  # print B sits this far right/up of print A (sub-pixel, as two scanners frame a reel)
PNG16 = FrameFormat(".png", "uint16", 16, 3)
MARGIN = 4  # px of the frame edge left out of error measures (print B has no picture there after its shift)


def _shifted(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(frame, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def prints(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Print A (frames 1001–1004) and print B (frames 1000–1004: it starts a frame earlier; shifted), each with
    its own damage.

    The clean shot is a slow pan, softened as a print is: a sub-pixel registration then costs little."""
    root = tmp_path_factory.mktemp("prints")
    shot = [cv2.GaussianBlur(f, (0, 0), 1.2)
            for f in photo_shot("astronaut", FRAMES + 1, WIDTH, HEIGHT, CameraMove("pan", 0.1), seed=1)]
    statistics = DamageStatistics.default().scaled(8.0)
    damage_a = ShotDamage.plan(WIDTH, HEIGHT, FRAMES, statistics, seed=1)
    damage_b = ShotDamage.plan(WIDTH, HEIGHT, FRAMES + 1, statistics, seed=2)
    clean_a = shot[1:]
    clean_b = [_shifted(f, *SHIFT) for f in shot]
    a = [damage_a.apply(f, i) for i, f in enumerate(clean_a)]
    b = [damage_b.apply(f, i) for i, f in enumerate(clean_b)]
    (root / "A").mkdir()
    (root / "B").mkdir()
    for i, damaged in enumerate(a):
        write_frame(root / "A" / f"reel1.{1001 + i}.png", damaged.frame, PNG16)
    for i, damaged in enumerate(b):
        write_frame(root / "B" / f"reel2.{1000 + i}.png", damaged.frame, PNG16)
    damage_c = ShotDamage.plan(WIDTH, HEIGHT, FRAMES, statistics, seed=3)
    c = [damage_c.apply(f, i) for i, f in enumerate(clean_a)]
    (root / "C").mkdir()
    for i, damaged in enumerate(c):
        write_frame(root / "C" / f"reel3.{1001 + i}.png", damaged.frame, PNG16)
    return {"root": root, "clean_a": clean_a, "clean_b": clean_b[1:], "a": a, "b": b[1:], "c": c}


def _run(*argv: str | Path) -> int:
    return main(["composite", *(str(a) for a in argv)])


@pytest.fixture(scope="module")
def composite(prints: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "composite"
    assert _run("--print", prints["root"] / "A", "--print", prints["root"] / "B", "--out", out, "--cell", "16") == 0
    return out


def _inner(image: np.ndarray) -> np.ndarray:
    return image[MARGIN:-MARGIN, MARGIN:-MARGIN]


def test_composite_is_closer_to_the_clean_shot_than_either_print(prints: dict, composite: Path) -> None:
    # metric: mean absolute error over RGB and the frame less a 4-px edge, each print against its own clean frames
    # (print B on its shifted grid), the composite against print A's clean frames; all as written to 16-bit PNG
    names = sorted(p.name for p in (prints["root"] / "A").iterdir())
    assert sorted(p.name for p in composite.glob("*.png")) == names, "the first print's frame names"
    errors = {"A": [], "B": [], "composite": []}
    for i, name in enumerate(names):
        frame = read_frame(composite / name)[0]
        assert frame.shape == (HEIGHT, WIDTH, 3)
        errors["composite"].append(np.abs(_inner(frame - prints["clean_a"][i])).mean())
        errors["A"].append(np.abs(_inner(prints["a"][i].frame - prints["clean_a"][i])).mean())
        errors["B"].append(np.abs(_inner(prints["b"][i].frame - prints["clean_b"][i])).mean())
    mean = {key: float(np.mean(values)) for key, values in errors.items()}
    assert mean["composite"] < 0.75 * min(mean["A"], mean["B"]), mean
    report = json.loads((composite / "composite.json").read_text())
    assert report["status"] == "complete" and [p["offset"] for p in report["prints"]] == [0, 1]
    assert report["prints"][1]["frames"] == [1001, 1004], "paired by frame number"
    matrix = np.array(report["frames"][0]["prints"][1]["matrix"])
    assert np.allclose(matrix[:2, 2], [-SHIFT[0], -SHIFT[1]], atol=0.5), "B's pixels are moved back onto A's"
    assert len(report["prints"][0]["frame_sha256"]) == FRAMES


def test_composite_loads_as_the_training_target_of_the_first_print(prints: dict, composite: Path) -> None:
    from chromaluma.train.pairs import load_pairs

    pairs = load_pairs("luma", None, prints["root"] / "A", composite)
    assert [pair.frame for pair in pairs] == [1001, 1002, 1003, 1004]
    for pair in pairs:
        assert pair.reference.shape[:2] == pair.scan.shape[:2] == (HEIGHT, WIDTH)
        assert Path(pair.record["reference"]).name == Path(pair.record["scan"]).name  # frame for frame, same name


def test_source_map_picks_the_undamaged_print_where_the_other_is_damaged(prints: dict, composite: Path) -> None:
    legend = json.loads((composite / "sources" / "legend.json").read_text())
    assert [legend["values"][k]["print"] for k in ("0", "1")] == ["A", "B"]
    picked_b, picked_a = [], []
    for i, name in enumerate(sorted(p.name for p in composite.glob("*.png"))):
        source = np.rint(read_frame(composite / "sources" / name)[0][..., 0] * 255).astype(int)
        assert set(np.unique(source)) <= {0, 1} and {0, 1} <= set(np.unique(source))
        error_a = np.abs(prints["a"][i].frame - prints["clean_a"][i]).max(axis=2)
        opacity_b = _shifted(prints["b"][i].opacity, -SHIFT[0], -SHIFT[1])
        error_b = _shifted(np.abs(prints["b"][i].frame - prints["clean_b"][i]).max(axis=2), -SHIFT[0], -SHIFT[1])
        inner = np.zeros_like(source, bool)
        inner[MARGIN:-MARGIN, MARGIN:-MARGIN] = True
        picked_b += list(source[inner & (error_a > 0.1) & (opacity_b == 0)] == 1)
        picked_a += list(source[inner & (error_b > 0.1) & (prints["a"][i].opacity == 0)] == 0)
    assert len(picked_b) > 200 and len(picked_a) > 200, "the fixture damages both prints visibly"
    assert np.mean(picked_b) > 0.85 and np.mean(picked_a) > 0.85, (np.mean(picked_b), np.mean(picked_a))


def test_three_prints_outvote_the_damage_of_any_one(prints: dict, tmp_path: Path) -> None:
    out = tmp_path / "three"
    assert _run("--print", prints["root"] / "A", "--print", prints["root"] / "B", "--print", prints["root"] / "C",
                "--out", out, "--cell", "16", "--frames", "1002-1003") == 0
    for i in (1, 2):
        frame = read_frame(out / f"reel1.{1001 + i}.png")[0]
        error = np.abs(_inner(frame - prints["clean_a"][i])).mean()
        singles = [np.abs(_inner(prints[key][i].frame - clean)).mean()
                   for key, clean in (("a", prints["clean_a"][i]), ("b", prints["clean_b"][i]),
                                      ("c", prints["clean_a"][i]))]
        assert error < 0.75 * min(singles), (error, singles)
        source = np.rint(read_frame(out / "sources" / f"reel1.{1001 + i}.png")[0][..., 0] * 255)
        assert set(np.unique(source)) == {0, 1, 2}
    legend = json.loads((out / "sources" / "legend.json").read_text())
    assert legend["values"]["2"]["path"] == str((prints["root"] / "C").resolve())


def test_prints_numbered_apart_pair_by_position_or_offset(prints: dict, composite: Path, tmp_path: Path) -> None:
    renumbered = tmp_path / "renumbered"
    renumbered.mkdir()
    for index, path in enumerate(sorted((prints["root"] / "B").iterdir())):
        (renumbered / f"other.{index:04d}.png").write_bytes(path.read_bytes())
    by_offset, by_position = tmp_path / "offset", tmp_path / "position"
    assert _run("--print", prints["root"] / "A", "--print", renumbered, "--out", by_offset, "--cell", "16",
                "--offset", "1") == 0
    maps = tmp_path / "maps"
    assert _run("--print", prints["root"] / "A", "--print", renumbered, "--out", by_position, "--cell", "16",
                "--frames", "1001-1002", "--source-map", maps) == 0
    assert sorted(p.name for p in maps.iterdir()) == ["legend.json", "reel1.1001.png", "reel1.1002.png"]
    assert not (by_position / "sources").exists()
    for path in composite.glob("*.png"):
        assert (by_offset / path.name).read_bytes() == path.read_bytes(), "--offset 1 pairs as the numbers did"
    report = json.loads((by_position / "composite.json").read_text())
    assert [part["frame"] for part in report["frames"][0]["prints"]] == [1001, 0], "first frame with first frame"


def _nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir())
    assert not list(out.parent.glob(f".{out.name}.*.partial")), "no partial folder left behind"


def _one_line(caplog: pytest.LogCaptureFixture) -> str:
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0] and "Traceback" not in caplog.text
    return errors[0]


def test_one_print_is_refused(prints: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert _run("--print", prints["root"] / "A", "--out", tmp_path / "out") == 2
    assert "--print" in _one_line(caplog) and "two or more" in caplog.text
    _nothing_written(tmp_path / "out")


def test_the_same_print_twice_is_refused(prints: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert _run("--print", prints["root"] / "A", "--print", prints["root"] / "B" / ".." / "A",
                "--out", tmp_path / "out") == 2
    assert "given twice" in _one_line(caplog)
    _nothing_written(tmp_path / "out")


def test_print_without_the_frames_of_the_first_is_refused(prints: dict, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    short = tmp_path / "short"
    short.mkdir()
    for path in sorted((prints["root"] / "B").iterdir())[:3]:
        (short / path.name).write_bytes(path.read_bytes())
    assert _run("--print", prints["root"] / "A", "--print", short, "--out", tmp_path / "out") == 2
    line = _one_line(caplog)
    assert str(short) in line and "1003" in line and "--frames" in line
    _nothing_written(tmp_path / "out")


def test_a_print_of_another_picture_is_refused(prints: dict, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for i, frame in enumerate(photo_shot("coffee", FRAMES, 96, 72, CameraMove("static"), seed=3)):
        write_frame(other / f"x.{i}.png", frame, PNG16)
    assert _run("--print", prints["root"] / "A", "--print", other, "--out", tmp_path / "out") == 2
    line = _one_line(caplog)
    assert str(other) in line and "--min-score" in line and "nothing was written" in line
    _nothing_written(tmp_path / "out")


def test_an_unreadable_frame_late_in_the_shot_leaves_nothing(prints: dict, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    paths = sorted((prints["root"] / "B").iterdir())
    for path in paths:
        (broken / path.name).write_bytes(path.read_bytes())
    last = broken / paths[-1].name
    last.write_bytes(last.read_bytes()[:200])  # truncated: the frames before it are composited first
    out = tmp_path / "out"
    out.mkdir()  # an empty folder is accepted, and stays empty
    assert _run("--print", prints["root"] / "A", "--print", broken, "--out", out, "--cell", "16") == 2
    assert last.name in _one_line(caplog)
    _nothing_written(out)


def test_a_folder_holding_files_is_never_written_over(prints: dict, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert _run("--print", prints["root"] / "A", "--print", prints["root"] / "B", "--out", out) == 2
    assert "--out" in _one_line(caplog) and "not empty" in caplog.text
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("flags, named", [(["--cell", "2"], "--cell"), (["--feather", "-1"], "--feather"),
                                          (["--min-score", "2"], "--min-score"), (["--offset", "1", "--offset", "2"],
                                                                                  "--offset")])
def test_bad_options_are_one_line(prints: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                  flags: list[str], named: str) -> None:
    assert _run("--print", prints["root"] / "A", "--print", prints["root"] / "B", "--out", tmp_path / "out",
                *flags) == 2
    assert _one_line(caplog).startswith(named)
    _nothing_written(tmp_path / "out")


def test_the_sharper_print_wins_and_the_composite_keeps_the_first_prints_density(tmp_path: Path) -> None:
    # undamaged prints: A is a soft duplicate at full density, B the sharp print but faded (gain 0.6, lifted 0.2)
    shot = photo_shot("astronaut", 2, WIDTH, HEIGHT, CameraMove("static"), seed=4)
    soft, faded = tmp_path / "soft", tmp_path / "faded"
    soft.mkdir(), faded.mkdir()
    for i, frame in enumerate(shot):
        write_frame(soft / f"s.{i}.png", cv2.GaussianBlur(frame, (0, 0), 1.5), PNG16)
        write_frame(faded / f"s.{i}.png", 0.2 + 0.6 * frame, PNG16)
    out = tmp_path / "out"
    assert _run("--print", soft, "--print", faded, "--out", out, "--cell", "16") == 0
    source = np.rint(read_frame(out / "sources" / "s.0.png")[0][..., 0] * 255)
    assert np.mean(source == 1) > 0.75, "the sharp print is taken where neither is damaged"
    composite = read_frame(out / "s.0.png")[0]
    inner = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    # density: the faded print's pixels come back at the first print's gain and offset (its mean and contrast)
    assert abs(float(composite[inner].mean() - shot[0][inner].mean())) < 0.01
    assert abs(float(composite[inner].std() / shot[0][inner].std()) - 1.0) < 0.05
    sharp_error = np.abs(composite - shot[0])[inner].mean()
    soft_error = np.abs(read_frame(soft / "s.0.png")[0] - shot[0])[inner].mean()
    assert sharp_error < 0.6 * soft_error, "detail comes from the sharp print"


def test_an_interrupt_leaves_nothing(prints: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture) -> None:
    import chromaluma.composite.render as render

    merge_frame, merged = render.merge_frame, []

    def interrupted_after_one_frame(*args: Any) -> Any:
        if merged:
            raise KeyboardInterrupt  # what Ctrl-C or SIGTERM raises in the main thread
        merged.append(merge_frame(*args))
        return merged[-1]

    monkeypatch.setattr(render, "merge_frame", interrupted_after_one_frame)
    out = tmp_path / "out"
    assert _run("--print", prints["root"] / "A", "--print", prints["root"] / "B", "--out", out, "--cell", "16") == 130
    assert merged, "one frame was composited before the interrupt"
    assert "nothing was written" in _one_line(caplog)
    _nothing_written(out)


@pytest.mark.parametrize("where", ["file", "inside-out"])
def test_unusable_output_folders_are_one_line(prints: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                              where: str) -> None:
    (tmp_path / "a-file").write_text("")
    flags = {"file": ["--out", tmp_path / "a-file" / "out"],
             "inside-out": ["--out", tmp_path / "out", "--source-map", tmp_path / "out" / "maps"]}[where]
    assert _run("--print", prints["root"] / "A", "--print", prints["root"] / "B", *flags) == 2
    line = _one_line(caplog)
    assert line.startswith("--out" if where == "file" else "--source-map")
    assert not (tmp_path / "out").exists()
