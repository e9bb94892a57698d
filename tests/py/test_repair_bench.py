"""The `repair` area of `chromaluma bench`: its measures on hand-made frames, its goal lines, and its quick plan end
to end through the command."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks.repair_metrics import DetectionCounts, detection_counts, pooled, region_scores, ssim_map
from chromaluma.benchmarks.repair_plan import (
    INPAINT_ROW,
    INPUT_ROW,
    MIXES,
    SPIKE_ROW,
    MethodScore,
    MixScore,
    RepairPlan,
    RepairShot,
    repair_row,
)
from chromaluma.benchmarks.repair_report import goal_verdicts, rows

SPECK, HAIR = 1, 2
NAMES = {1: "speck", 2: "hair", 3: "sparkle", 4: "scratch", 5: "blotch"}


def _truth(size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((size, size), np.float32), np.zeros((size, size), np.uint8)


def _draw(opacity: np.ndarray, classes: np.ndarray, where: tuple[slice, slice], class_id: int,
          value: float = 0.8) -> None:
    opacity[where] = value
    classes[where] = class_id


# --- objects: found, true, false ---------------------------------------------------------------------------------

def test_a_defect_is_found_when_half_its_pixels_lie_within_a_pixel_of_the_matte() -> None:
    opacity, classes = _truth()
    _draw(opacity, classes, (slice(10, 11), slice(10, 16)), SPECK)  # a 6-px line
    matte = np.zeros_like(opacity)
    matte[10, 10] = 1.0  # reaches columns 9–11: 2 of 6 pixels
    assert detection_counts(matte, opacity, classes).found == {SPECK: 0}
    matte[10, 11] = 1.0  # reaches columns 9–12: 3 of 6 pixels, exactly half
    counts = detection_counts(matte, opacity, classes)
    assert counts.defects == {SPECK: 1} and counts.found == {SPECK: 1}
    assert counts.true == {SPECK: 1} and counts.false == 0


def test_the_one_pixel_tolerance_holds_diagonally_and_not_at_two_pixels() -> None:
    opacity, classes = _truth()
    _draw(opacity, classes, (slice(21, 22), slice(21, 22)), SPECK)
    near = np.zeros_like(opacity)
    near[20, 20] = 1.0
    counts = detection_counts(near, opacity, classes)
    assert (counts.found, counts.true, counts.false) == ({SPECK: 1}, {SPECK: 1}, 0)
    far = np.zeros_like(opacity)
    far[19, 19] = 1.0
    counts = detection_counts(far, opacity, classes)
    assert (counts.found, counts.true, counts.false) == ({SPECK: 0}, {SPECK: 0}, 1)
    assert counts.recall() == 0.0 and counts.precision() == 0.0


def test_damage_fainter_than_the_floor_is_no_defect_and_a_matte_on_it_is_false() -> None:
    opacity, classes = _truth()
    _draw(opacity, classes, (slice(5, 8), slice(5, 8)), SPECK, value=0.04)
    matte = (opacity > 0).astype(np.float32)
    counts = detection_counts(matte, opacity, classes)
    assert counts.classes() == [] and counts.false == 1
    assert counts.recall() is None and counts.precision() == 0.0


def test_defects_are_components_per_class_and_a_matte_component_is_credited_to_the_class_it_touches_most() -> None:
    opacity, classes = _truth()
    _draw(opacity, classes, (slice(10, 30), slice(20, 21)), HAIR)  # a hair ...
    _draw(opacity, classes, (slice(30, 32), slice(20, 22)), SPECK)  # ... touching a speck: two defects, not one
    _draw(opacity, classes, (slice(2, 4), slice(2, 4)), SPECK)  # a second speck, missed
    matte = np.zeros_like(opacity)
    matte[10:32, 19:22] = 1.0  # one matte component over the hair and the touching speck
    matte[36:38, 36:38] = 1.0  # and a false alarm
    counts = detection_counts(matte, opacity, classes)
    assert counts.defects == {SPECK: 2, HAIR: 1}
    assert counts.found == {SPECK: 1, HAIR: 1}
    assert counts.true == {SPECK: 0, HAIR: 1} and counts.false == 1
    assert counts.recall(SPECK) == 0.5 and counts.recall(HAIR) == 1.0 and counts.recall() == pytest.approx(2 / 3)
    assert counts.precision(HAIR) == 0.5  # charged with the false alarm
    assert counts.precision() == 0.5


def test_a_soft_value_matte_counts_where_it_is_above_zero_and_an_empty_matte_has_no_precision() -> None:
    opacity, classes = _truth()
    _draw(opacity, classes, (slice(10, 12), slice(10, 12)), SPECK)
    faint = np.zeros_like(opacity)
    faint[10:12, 10:12] = 1e-3
    assert detection_counts(faint, opacity, classes).found == {SPECK: 1}
    empty = detection_counts(np.zeros_like(opacity), opacity, classes)
    assert empty.precision() is None and empty.recall() == 0.0 and empty.false == 0


def test_counts_pool_over_frames() -> None:
    total = DetectionCounts()
    total.add(DetectionCounts(defects={SPECK: 3}, found={SPECK: 3}, true={SPECK: 3}, false=1))
    total.add(DetectionCounts(defects={SPECK: 1, HAIR: 2}, found={SPECK: 0, HAIR: 1}, true={HAIR: 1}, false=0))
    assert total.defects == {SPECK: 4, HAIR: 2}
    assert total.recall(SPECK) == 0.75 and total.recall() == pytest.approx(4 / 6)
    assert total.precision(SPECK) == 0.75 and total.precision() == 0.8


# --- damaged regions and untouched pixels ------------------------------------------------------------------------

def _frames(size: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    clean = rng.random((size, size, 3), dtype=np.float32)
    opacity = np.zeros((size, size), np.float32)
    opacity[4:6, 4:6] = 0.9
    damaged = clean.copy()
    damaged[4:6, 4:6] = 1.0
    return clean, damaged, opacity


def test_psnr_is_read_inside_the_damage_only_and_pooled_over_frames() -> None:
    clean, damaged, opacity = _frames()
    output = clean.copy()
    output[4:6, 4:6] += 0.1  # squared error 0.01 at every damaged value
    output[0, 0] += 0.5  # outside the damage: not in the PSNR
    scores = region_scores(output, damaged, clean, opacity)
    assert scores.psnr == pytest.approx(20.0, abs=1e-4)
    perfect = region_scores(clean.copy(), damaged, clean, opacity)
    assert perfect.psnr == math.inf and perfect.ssim == pytest.approx(1.0)
    assert pooled([scores, perfect]).psnr == pytest.approx(10 * math.log10(1 / 0.005), abs=1e-4)  # not a mean of dB
    assert region_scores(clean, clean, clean, np.zeros_like(opacity)).psnr is None


def test_ssim_is_one_for_equal_frames_and_drops_with_a_wrong_patch() -> None:
    clean, damaged, _ = _frames(32)
    assert np.allclose(ssim_map(clean, clean), 1.0)
    assert ssim_map(damaged, clean)[4:6, 4:6].mean() < 0.9
    assert ssim_map(damaged, clean)[25:, 25:].mean() == pytest.approx(1.0)


def test_ssim_map_agrees_with_scikit_image_gaussian_ssim() -> None:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(5)
    first = rng.random((48, 40, 3), dtype=np.float32)
    second = np.clip(first + rng.normal(0, 0.1, first.shape), 0, 1).astype(np.float32)
    _, reference = structural_similarity(first.astype(np.float64), second.astype(np.float64), channel_axis=2,
                                         data_range=1.0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, full=True)
    inner = (slice(6, -6), slice(6, -6))  # the borders are padded differently
    assert np.allclose(ssim_map(first, second)[inner], reference.mean(axis=2)[inner], atol=1e-5)


def test_undamaged_pixels_count_as_exact_only_with_the_same_bits() -> None:
    clean, damaged, opacity = _frames()
    undamaged = int(np.count_nonzero(opacity == 0))
    output = damaged.copy()
    output[4:6, 4:6] = clean[4:6, 4:6]  # repaired inside: no effect on the share
    assert region_scores(output, damaged, clean, opacity).exact_share == 1.0
    output[0, 0, 1] = np.nextafter(output[0, 0, 1], np.float32(2.0))  # one channel, one ulp
    assert region_scores(output, damaged, clean, opacity).exact == undamaged - 1
    damaged[1, 1] = 0.0
    output[1, 1] = -0.0  # −0.0 is not the input's +0.0
    assert region_scores(output, damaged, clean, opacity).exact == undamaged - 2
    damaged[2, 2, 0] = output[2, 2, 0] = np.float32(np.nan)  # the same NaN passed through is exact
    scores = region_scores(output, damaged, clean, opacity)
    assert scores.exact == undamaged - 2 and scores.undamaged == undamaged


# --- goals and table -----------------------------------------------------------------------------------------------

PLAN = RepairPlan.quick()


def _mix(precision: float, recall: float, psnr: float, exact: float) -> MixScore:
    """A mix score with 100 specks and 100 hairs at the given precision and recall, and the region numbers."""
    score = MixScore(frames=1)
    true = round(100 * recall)
    false = round(true * (1 - precision) / precision)
    score.detection = DetectionCounts(defects={SPECK: 100, HAIR: 100}, found={SPECK: true, HAIR: true},
                                      true={SPECK: true, HAIR: true}, false=false)
    score.regions.squared_error, score.regions.values = 10 ** (-psnr / 10), 1
    score.regions.exact, score.regions.undamaged = round(exact * 10000), 10000
    return score


def _method(name: str, precision: float, recall: float, psnr: float, exact: float, ms: float | None = 900.0,
            note: str = "") -> MethodScore:
    score = MethodScore(name, ms_2k=ms, note=note)
    for mix in MIXES:
        score.mixes[mix] = _mix(precision, recall, psnr, exact)
    return score


def _scores(precision: float, recall: float, psnr: float, exact: float, ms: float) -> list[MethodScore]:
    return [_method(SPIKE_ROW, 0.7, 0.7, 30.0, 1.0), _method(INPAINT_ROW, 0.6, 0.8, 31.0, 1.0),
            *[_method(repair_row(m), precision, recall, psnr, exact, ms, note="2 steps in 0.1 min")
              for m in PLAN.minutes]]


def test_goal_lines_say_met_with_the_numbers_and_the_steps() -> None:
    lines = goal_verdicts(_scores(0.95, 0.92, 34.5, 0.999, 1200.0), PLAN, NAMES)
    text = "\n".join(lines)
    name = repair_row(PLAN.minutes[0])
    assert f"Goal, {name} [2 steps in 0.1 min]: precision and recall ≥ 0.9 on speck and hair: met (lowest over the " \
           "mixes: speck P 0.95 / R 0.92, hair P 0.95 / R 0.92)" in text
    assert "≥ the best baseline + 3 dB in every mix: met (ours vs the best baseline, dB: specks 34.50 vs 31.00" in text
    assert "≥ 99.5 % of undamaged pixels bit-exact: lowest over the mixes 99.90 % — met" in text
    assert "≤ 1500 ms/frame on 2 CPU cores" in text and "1200 ms/frame — met" in text
    assert len(lines) == 4 * len(PLAN.minutes)
    assert all("[2 steps in 0.1 min]" in line for line in lines)


def test_goal_lines_say_not_met_when_a_number_falls_short() -> None:
    text = "\n".join(goal_verdicts(_scores(0.85, 0.95, 33.9, 0.99, 1600.0), PLAN, NAMES))
    assert "on speck and hair: not met (lowest over the mixes: speck P 0.85 / R 0.95" in text
    assert "in every mix: not met (ours vs the best baseline, dB: specks 33.90 vs 31.00" in text
    assert "lowest over the mixes 99.00 % — not met" in text
    assert "1600 ms/frame — not met" in text


def test_a_model_that_repairs_nothing_fails_the_detection_goal_with_no_precision() -> None:
    scores = _scores(0.95, 0.95, 34.5, 1.0, 900.0)
    for score in scores[2:]:
        for mix in score.mixes.values():
            mix.detection = DetectionCounts(defects={SPECK: 5, HAIR: 5}, found={SPECK: 0, HAIR: 0})
    text = "\n".join(goal_verdicts(scores, PLAN, NAMES))
    assert "on speck and hair: not met (lowest over the mixes: speck P — / R 0.00, hair P — / R 0.00)" in text


def test_a_model_that_was_not_trained_is_not_assessed_with_why_and_its_row_says_so() -> None:
    scores = [_method(SPIKE_ROW, 0.7, 0.7, 30.0, 1.0),
              *[MethodScore(repair_row(m), note="not measured: training failed: no scan") for m in PLAN.minutes]]
    scores[1].ms_2k, scores[1].time_note = 700.0, "untrained model of the shipped size"
    lines = goal_verdicts(scores, PLAN, NAMES)
    assert lines[0] == (f"Goals for {repair_row(PLAN.minutes[0])}: not assessed — not measured: training failed: "
                        "no scan.")
    assert lines[1].endswith("700 ms/frame — met (untrained model of the shipped size).")
    assert len(lines) == 2 * len(PLAN.minutes)
    table = rows(scores, NAMES)
    assert table[-1][0] == repair_row(PLAN.minutes[-1]) and table[-1][1] == "all"
    assert table[-1][-1] == "not measured: training failed: no scan"


def test_the_damaged_input_row_has_no_detection_numbers_but_its_region_numbers() -> None:
    score = _method(INPUT_ROW, 0.5, 0.5, 18.0, 1.0)
    score.detects = False
    table = rows([score], NAMES)
    assert len(table) == len(MIXES)
    first = table[0]
    assert first[:4] == [INPUT_ROW, "specks", "—", "—"] and first[4] == "— / —"
    assert first[-4:-1] == ["18.00", "—", "100.00 %"]


# --- scoring a method over shots ---------------------------------------------------------------------------------

def _shot(mix: str = "specks") -> RepairShot:
    clean, damaged, opacity = _frames()
    classes = (opacity > 0).astype(np.uint8) * SPECK
    return RepairShot("pan", mix, [clean, clean], [damaged, damaged.copy()], [opacity, opacity],
                      [classes, classes])


def test_a_perfect_repair_scores_full_marks_and_the_input_scores_its_damage() -> None:
    from chromaluma.benchmarks.repair import Method, score_methods, unrepaired

    shot = _shot()

    def perfect(frames: list[np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
        out = frames[index].copy()
        out[shot.opacity[index] > 0] = shot.clean[index][shot.opacity[index] > 0]
        return out, (shot.opacity[index] > 0).astype(np.float32)

    score, damaged = (s.mixes["specks"] for s in score_methods(
        [Method("perfect", perfect), Method(INPUT_ROW, unrepaired, detects=False)], [shot]))
    assert score.frames == 2
    assert score.detection.defects == {SPECK: 2} and score.detection.recall() == 1.0
    assert score.detection.precision() == 1.0
    assert score.regions.psnr == math.inf and score.regions.exact_share == 1.0
    assert damaged.detection.recall() == 0.0 and damaged.regions.psnr < 20.0 and damaged.regions.exact_share == 1.0


def test_a_method_that_fails_is_a_row_saying_why_and_the_others_still_score() -> None:
    from chromaluma.benchmarks.repair import Method, score_methods, unrepaired

    calls = []

    def broken(frames: list[np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append(index)
        raise RuntimeError("flow failed on frame 0\nsecond line")

    methods = [Method(SPIKE_ROW, broken), Method(INPUT_ROW, unrepaired, detects=False),
               Method(repair_row(5), None, "not measured: training failed: no scan")]
    failed, damaged, untrained = score_methods(methods, [_shot(), _shot("hairs")])
    assert not failed.measured and failed.note == "not measured: flow failed on frame 0"
    assert calls == [0]  # not tried again on later shots
    assert rows([failed], NAMES)[0][-1] == "not measured: flow failed on frame 0"
    assert damaged.measured and set(damaged.mixes) == {"specks", "hairs"} and damaged.mixes["hairs"].frames == 2
    assert not untrained.measured and untrained.note == "not measured: training failed: no scan"


# --- end to end --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_quick_plan_through_bench_writes_every_row_mix_and_goal_line(tmp_path: Path) -> None:
    from chromaluma.commands import bench

    out = tmp_path / "BENCHMARKS.md"
    command = "chromaluma bench --only repair --quick"
    args = argparse.Namespace(only="repair", quick=True, workdir=tmp_path / "work", out=out,
                              plots_dir=tmp_path / "plots", command_line=command)
    assert bench.run(args) == 0
    text = out.read_text(encoding="utf-8")
    assert f"by `{command}` (quick smoke run)._" in text.split("## Repair", 1)[1]
    lines = text.splitlines()
    width = len(next(line for line in lines if line.startswith("| method | mix |")).split(" | "))
    table = [cells for line in lines if line.startswith("| ") and len(cells := line.split(" | ")) == width]
    for method in (INPUT_ROW, SPIKE_ROW, INPAINT_ROW, *[repair_row(m) for m in PLAN.minutes]):
        mixes = {cells[1] for cells in table if cells[0] == f"| {method}"}
        assert mixes == set(MIXES), (method, mixes)
    for minutes in PLAN.minutes:  # trained (2 steps) and scored: every goal line carries its steps
        assert f"Goal, {repair_row(minutes)} [2 steps in " in text
    by_row = {(cells[0][2:], cells[1]): cells for cells in table}
    damaged, spike = by_row[(INPUT_ROW, "specks")], by_row[(SPIKE_ROW, "specks")]
    assert damaged[-2] == "100.00 %"  # the input is its own undamaged pixels
    assert float(spike[-4]) > float(damaged[-4])  # the baseline repairs: PSNR inside the damage goes up
    assert float(spike[3]) > 0.3  # and finds specks
    assert "Repair: render time at 160×96" in text
