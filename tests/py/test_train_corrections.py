"""`chromaluma train --corrections DIR`: frames a restorer fixed by hand steer a fine-tune, and the card lists them."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest

from chromaluma import cli
from chromaluma.card import describe_card
from chromaluma.contract import file_sha256
from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.train import TrainConfig, train
from chromaluma.train.corrections import join_corrections
from chromaluma.train.pairs import load_pairs

PNG16 = FrameFormat(".png", "uint16", 16, 3)
EXR = FrameFormat(".exr", "float", 32, 3)
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
HEIGHT, WIDTH = 48, 96
CARD = (slice(16, 32), slice(64, 80))  # the corrected region: a blue card in frame 1001 only
CARD_COLOUR = (0.15, 0.45, 0.85)
PAINTED = np.array([0.2, 0.75, 0.3], dtype=np.float32)  # the colour the restorer paints the card (on its luma)
# Pixels this far from the card in frame 1001 count as "elsewhere": beyond the grid cells the card covers and their
# bilinear upsampling (cells of 4 px at processing scale 0.25). The network's receptive field spans this small
# frame, so the card is in view of every "elsewhere" pixel: the tolerance holds all the same.
ELSEWHERE_MARGIN = 20


def _scene(rng: np.random.Generator) -> np.ndarray:
    """Warm blobs on grey: nothing in the shot looks like the blue card."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    for _ in range(4):
        cy, cx, radius = rng.random() * HEIGHT, rng.random() * WIDTH, 8 + rng.random() * 16
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))[..., None]
        frame += blob * np.array([0.9, 0.55, 0.2], np.float32) * (0.5 + 0.5 * rng.random(3).astype(np.float32))
    return np.clip(0.15 + frame * 0.7, 0.0, 1.0)


def _fade(reference: np.ndarray) -> np.ndarray:
    """A faded print: colour pulled towards grey with a magenta cast, luma kept."""
    y = reference @ LUMA
    faded = 0.45 * reference + 0.55 * y[..., None] + np.array([0.05, -0.03, 0.04], np.float32)
    return np.clip(faded - (faded @ LUMA - y)[..., None], 0.0, 1.0)


def _shots(root: Path, frames: int = 3, height: int = HEIGHT, width: int = WIDTH) -> None:
    rng = np.random.default_rng(3)
    for folder in ("scan", "reference"):
        (root / folder).mkdir(parents=True)
    for index in range(frames):
        reference = _scene(rng)[:height, :width]
        if index == 1 and height >= 32 and width >= 80:
            reference[CARD] = CARD_COLOUR
        write_frame(root / "scan" / f"reel.{1000 + index:04d}.png", _fade(reference), PNG16)
        write_frame(root / "reference" / f"dvd.{1000 + index:04d}.png", reference, PNG16)


def _render(model: Path, root: Path, frame: int) -> np.ndarray:
    scan, _ = read_frame(root / "scan" / f"reel.{frame:04d}.png")
    image = np.concatenate([scan, np.ones_like(scan[..., :1])], axis=2)[None].astype(np.float32)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(["restored"], {"image": image})[0][0][..., :3]


def _paint_card(render: np.ndarray) -> np.ndarray:
    """What the restorer does: the card repainted green on the render's own luma, the rest of the render kept."""
    corrected = render.copy()
    luma = render[CARD] @ LUMA
    corrected[CARD] = PAINTED + (luma - PAINTED @ LUMA)[..., None]
    return corrected


def _card_mask() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    mask[CARD] = 1.0
    return mask


def _run(root: Path, name: str, steps: int, learning_rate: float, **settings) -> Path:
    config = TrainConfig(run_dir=root / name, input=root / "scan", target=root / "reference", steps=steps, crop=32,
                         batch=4, preview_every=1000, checkpoint_every=1000, learning_rate=learning_rate,
                         out=root / f"{name}.onnx", **settings)
    return train(config, progress=False)


@pytest.mark.slow
def test_a_masked_correction_moves_its_region_and_leaves_the_rest(tmp_path: Path):
    _shots(tmp_path)
    original = _run(tmp_path, "original", 60, 5e-3, density="keep")
    before = _render(original, tmp_path, 1001)
    corrected = _paint_card(before)
    (tmp_path / "fixes" / "masks").mkdir(parents=True)
    write_frame(tmp_path / "fixes" / "1001.exr", corrected, EXR)
    write_frame(tmp_path / "fixes" / "masks" / "1001.png", _card_mask(), PNG16)

    tuned = _run(tmp_path, "tuned", 60, 3e-3, init=original, corrections=tmp_path / "fixes", correction_weight=8)

    # in the corrected region: mean |RGB − correction| falls by more than half
    after = _render(tuned, tmp_path, 1001)
    error_before = np.abs(before[CARD] - corrected[CARD]).mean()
    error_after = np.abs(after[CARD] - corrected[CARD]).mean()
    assert error_after < 0.5 * error_before, (error_before, error_after)
    # elsewhere (the other frames, and frame 1001 beyond ELSEWHERE_MARGIN of the card): the original model's output
    # within a mean |ΔRGB| of 0.05 and under a quarter of the card's change (a chroma model's direct colour path
    # spreads a little of any correction to every colour; the same fine-tune without corrections moves about 0.01)
    elsewhere = np.ones((HEIGHT, WIDTH), bool)
    elsewhere[max(0, CARD[0].start - ELSEWHERE_MARGIN):CARD[0].stop + ELSEWHERE_MARGIN,
              CARD[1].start - ELSEWHERE_MARGIN:CARD[1].stop + ELSEWHERE_MARGIN] = False
    change_in_card = np.abs(after[CARD] - before[CARD]).mean()
    for frame, region in ((1000, np.ones_like(elsewhere)), (1001, elsewhere), (1002, np.ones_like(elsewhere))):
        drift = np.abs(_render(tuned, tmp_path, frame) - _render(original, tmp_path, frame))[region].mean()
        assert drift < 0.05 and drift < 0.25 * change_in_card, (frame, drift, change_in_card)

    section = json.loads(tuned.with_suffix(".json").read_text())["training"]["corrections"]
    (entry,) = section["corrections"]
    assert entry["frame"] == 1001 and entry["weight"] == 8 and entry["region_px"] == 16 * 16
    assert entry["sha256"] == file_sha256(tmp_path / "fixes" / "1001.exr")
    assert entry["mask_sha256"] == file_sha256(tmp_path / "fixes" / "masks" / "1001.png")
    text = describe_card(json.loads(tuned.with_suffix(".json").read_text()), str(tuned))
    assert "Corrections 1" in text and "frame 1001" in text and entry["sha256"][:12] in text


def _session(root: Path, weight: int = 3) -> SimpleNamespace:
    """What join_corrections reads of a training session, for a run on `root`'s shots with its `fixes` folder."""
    config = TrainConfig(run_dir=root / "run", input=root / "scan", target=root / "reference",
                         corrections=root / "fixes", correction_weight=weight, crop=32).resolved()
    pairs = load_pairs("chroma", None, config.input, config.target)
    return SimpleNamespace(config=config, pairs=pairs, train_pairs=list(pairs), radius=0, resume=False,
                           card_training={}, run_dir=config.run_dir)


def test_a_masked_correction_trains_on_its_region_and_overrules_the_reference_there(tmp_path: Path):
    _shots(tmp_path)
    (tmp_path / "fixes" / "masks").mkdir(parents=True)
    painted = np.full((HEIGHT, WIDTH, 3), 0.5, np.float32)
    write_frame(tmp_path / "fixes" / "shot_1001.exr", painted, EXR)
    write_frame(tmp_path / "fixes" / "masks" / "shot_1001_mask.png", _card_mask(), PNG16)
    session = _session(tmp_path, weight=3)
    joined = join_corrections(session)

    fixes = [p for p in joined if "correction" in p.record]
    assert len(fixes) == 3  # drawn three times as often as a pair
    fix = fixes[0]
    # cut around the card, grown to a crop's edge (32 px): every crop of it holds the card
    assert fix.scan.shape[:2] == (32, 32) and fix.valid.sum() == 16 * 16
    np.testing.assert_array_equal(fix.reference, 0.5)
    ordinary = {p.frame: p for p in joined if "correction" not in p.record}
    assert set(ordinary) == {1000, 1001, 1002}
    assert ordinary[1001].valid[CARD].sum() == 0  # the reference no longer counts under the correction
    assert ordinary[1001].valid.sum() == HEIGHT * WIDTH - 16 * 16
    assert ordinary[1000].valid.sum() == HEIGHT * WIDTH
    assert session.card_training["corrections"]["corrections"][0]["mask"].endswith("shot_1001_mask.png")


def test_a_whole_frame_correction_replaces_its_pair(tmp_path: Path):
    _shots(tmp_path)
    (tmp_path / "fixes").mkdir()
    write_frame(tmp_path / "fixes" / "1002.png", np.full((HEIGHT, WIDTH, 3), 0.25, np.float32), PNG16)
    joined = join_corrections(_session(tmp_path, weight=1))
    assert sorted(p.frame for p in joined if "correction" not in p.record) == [1000, 1001]
    (fix,) = [p for p in joined if "correction" in p.record]
    assert fix.frame == 1002 and fix.scan.shape[:2] == (HEIGHT, WIDTH) and fix.valid.all()


def _refused(tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: list[str], *fragments: str) -> None:
    """The CLI refuses in one line naming the fragments, exits 2 and leaves no run folder."""
    caplog.clear()
    argv = ["train", "--input", str(tmp_path / "scan"), "--target", str(tmp_path / "reference"),
            "--run-dir", str(tmp_path / "run"), "--steps", "1", "--crop", "16", "--batch", "1", *extra]
    with caplog.at_level(logging.ERROR):
        assert cli.main(argv) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    assert not (tmp_path / "run").exists()


def test_bad_corrections_are_refused_in_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _shots(tmp_path, height=24, width=32)
    fixes = tmp_path / "fixes"
    flag = ["--corrections", str(fixes)]
    _refused(tmp_path, caplog, flag, str(fixes), "no such folder")
    fixes.mkdir()
    _refused(tmp_path, caplog, flag, str(fixes), "no corrected frames")
    grey = np.full((24, 32, 3), 0.5, np.float32)
    write_frame(fixes / "hero.png", grey, PNG16)
    _refused(tmp_path, caplog, flag, "hero.png", "no frame number", "0120.png")
    (fixes / "hero.png").unlink()
    write_frame(fixes / "a.1001.png", grey, PNG16)
    write_frame(fixes / "b.1001.png", grey, PNG16)
    _refused(tmp_path, caplog, flag, "b.1001.png", "two corrections for frame 1001")
    (fixes / "b.1001.png").unlink()
    (fixes / "masks").mkdir()
    write_frame(fixes / "masks" / "1002.png", grey, PNG16)
    _refused(tmp_path, caplog, flag, "1002.png", "no correction of that frame")
    (fixes / "masks" / "1002.png").unlink()
    write_frame(fixes / "masks" / "1001.png", np.zeros_like(grey), PNG16)
    _refused(tmp_path, caplog, flag, "1001.png", "marks no pixel")
    write_frame(fixes / "masks" / "1001.png", np.ones((24, 30, 3), np.float32), PNG16)
    _refused(tmp_path, caplog, flag, "1001.png", "32×24", "must match its correction")
    (fixes / "masks" / "1001.png").unlink()
    write_frame(fixes / "a.1001.png", np.full((20, 32, 3), 0.5, np.float32), PNG16)
    _refused(tmp_path, caplog, flag, "a.1001.png", "32×20", "32×24", "scan's size")
    (fixes / "a.1001.png").unlink()
    write_frame(fixes / "0007.png", grey, PNG16)
    _refused(tmp_path, caplog, flag, "0007.png", "frame 7 is not in the scan", "1000-1002")


def test_bad_correction_flags_are_refused_in_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _shots(tmp_path, height=24, width=32)
    (tmp_path / "fixes").mkdir()
    write_frame(tmp_path / "fixes" / "1001.png", np.full((24, 32, 3), 0.5, np.float32), PNG16)
    flag = ["--corrections", str(tmp_path / "fixes")]
    _refused(tmp_path, caplog, [*flag, "--correction-weight", "0"], "--correction-weight 0", "whole number")
    _refused(tmp_path, caplog, [*flag, "--correction-weight", "2.5"], "--correction-weight '2.5'", "whole number")
    _refused(tmp_path, caplog, ["--correction-weight", "4"], "--correction-weight 4", "--corrections DIR")
    _refused(tmp_path, caplog, [*flag, "--kind", "repair"], "repair models do not learn from pairs")


def test_resume_keeps_the_corrections_the_run_began_with(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _shots(tmp_path, height=24, width=32)
    fixes = tmp_path / "fixes"
    fixes.mkdir()
    write_frame(fixes / "1001.png", np.full((24, 32, 3), 0.5, np.float32), PNG16)
    run = tmp_path / "run"
    train(TrainConfig(run_dir=run, input=tmp_path / "scan", target=tmp_path / "reference", corrections=fixes,
                      steps=1, crop=16, batch=1, export=False), progress=False)
    checkpoints = sorted((run / "checkpoints").iterdir())

    def refused(argv: list[str], *fragments: str) -> None:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert cli.main(["train", "--resume", str(run), "--steps", "2", *argv]) == 2
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and all(fragment in errors[0] for fragment in fragments), errors
        assert sorted((run / "checkpoints").iterdir()) == checkpoints  # the run is as it was

    refused(["--corrections", str(tmp_path / "other")], "keeps the corrections it began with", f"--init {run}")
    refused(["--correction-weight", "9"], "keeps the corrections it began with")
    write_frame(fixes / "1001.png", np.full((24, 32, 3), 0.25, np.float32), PNG16)  # repainted since
    refused([], str(fixes), "changed since", f"--init {run}")
