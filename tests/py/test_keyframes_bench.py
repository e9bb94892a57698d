"""The `keyframes` area of `chromaluma bench`: its quick plan end to end through the command, and the goal lines."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks.keyframes import colourfulness
from chromaluma.benchmarks.keyframes_plan import (
    BASELINE_ROW,
    FARNEBACK_ROW,
    GREY_ROW,
    HELD_ROW,
    PER_FRAME_ROW,
    TRUTH_ROW,
    KeyframePlan,
    KeyframeShot,
    MethodScore,
    keyframe_row,
)
from chromaluma.benchmarks.keyframes_report import RenderCost, goal_verdicts
from chromaluma.commands import bench

PLAN = KeyframePlan.quick()


def _score(name: str, by_distance: dict[int, float], shift: float | None = 0.2) -> MethodScore:
    score = MethodScore(name, delta_e={d: [v] for d, v in by_distance.items()},
                        delta_e_p95={d: [2 * v] for d, v in by_distance.items()}, locked_off_shift=shift)
    score.colourfulness.append(30.0)
    return score


def _rivals() -> list[MethodScore]:
    return [_score(PER_FRAME_ROW, {0: 9.0, 2: 9.0, 3: 9.0, 6: 9.0}),
            _score(BASELINE_ROW, {0: 1.5, 2: 2.0, 3: 2.4, 6: 3.0})]


def test_goal_lines_say_met_with_the_numbers_when_the_keyframe_kind_wins() -> None:
    ours = [_score(keyframe_row(m), {0: 1.0, 2: 1.1, 3: 1.2, 6: 2.0}) for m in PLAN.keyframe_minutes]
    lines = goal_verdicts([*_rivals(), *ours], PLAN, RenderCost(420.0, "median of 1"))
    text = "\n".join(lines)
    assert "beats the per-frame model and the classical baseline at every distance (ΔE2000 mean, ours vs the best " \
           "of them): met (0: 1.00 vs 1.50, 2: 1.10 vs 2.00, 3: 1.20 vs 2.40, 6: 2.00 vs 3.00)" in text
    assert "ΔE2000 at 3 frames ≤ 1.5× at the keyframe: 1.20 / 1.00 = 1.20× — met" in text
    assert "within 1.0 of its keyframe's: largest 0.20 — met" in text
    assert "≤ 1000 ms/frame on 2 CPU cores" in text and "420 ms/frame — met" in text
    assert len(lines) == 3 * len(PLAN.keyframe_minutes) + 1


def test_goal_lines_say_not_met_when_a_rival_wins_anywhere_or_colour_drifts() -> None:
    ours = [_score(keyframe_row(m), {0: 1.0, 2: 2.1, 3: 1.6, 6: 2.0}, shift=1.4) for m in PLAN.keyframe_minutes]
    text = "\n".join(goal_verdicts([*_rivals(), *ours], PLAN, RenderCost(1500.0, "median of 1")))
    assert "every distance (ΔE2000 mean, ours vs the best of them): not met (0: 1.00 vs 1.50, 2: 2.10 vs 2.00" \
           in text
    assert "1.60 / 1.00 = 1.60× — not met" in text
    assert "largest 1.40 — not met" in text
    assert "1500 ms/frame — not met" in text


def test_the_ratio_goal_of_a_keyframe_rendered_exactly_is_judged_against_a_just_noticeable_difference() -> None:
    """ΔE 0 on the keyframe's own frame leaves no ratio: the error at the goal distance must then stay below 1.5×
    a just-noticeable ΔE2000 of 1; every rival counts, the Farneback baseline too."""
    rivals = [*_rivals(), _score(FARNEBACK_ROW, {0: 0.5, 2: 1.0, 3: 1.1, 6: 1.2})]
    for at_goal, verdict in ((1.4, "met"), (1.6, "not met")):
        ours = [_score(keyframe_row(m), {0: 0.0, 2: 0.9, 3: at_goal, 6: 1.5}) for m in PLAN.keyframe_minutes]
        text = "\n".join(goal_verdicts([*rivals, *ours], PLAN, RenderCost(420.0, "median of 1")))
        assert (f"ΔE2000 at 3 frames ≤ 1.5× at the keyframe: {at_goal:.2f} at 3 frames, 0.00 at the keyframe (below a "
                f"just-noticeable 1, so measured against 1.5× 1) — {verdict}.") in text
        assert "not met (0: 0.00 vs 0.50, 2: 0.90 vs 1.00, 3:" in text


def test_a_keyframe_row_that_was_not_trained_is_reported_not_assessed_with_why() -> None:
    ours = [MethodScore(keyframe_row(m), note="not measured: training failed: no scan") for m in PLAN.keyframe_minutes]
    lines = goal_verdicts([*_rivals(), *ours], PLAN, RenderCost(None, "no keyframe model was trained"))
    assert lines[0] == (f"Goals for {keyframe_row(PLAN.keyframe_minutes[0])}: not assessed — not measured: training "
                        "failed: no scan.")
    assert "not measured: no keyframe model was trained" in lines[-1]


def test_keyframe_pairs_follow_the_shot_rule() -> None:
    shot = KeyframeShot("pan", [], [], [0, 24, 48])
    assert [shot.pair_for(i) for i in (0, 5, 24, 30, 48)] == [(0, 0), (0, 24), (24, 24), (24, 48), (48, 48)]
    assert KeyframeShot("late", [], [], [10]).pair_for(3) == (10, 10)
    assert KeyframeShot("early", [], [], [10]).pair_for(20) == (10, 10)


def test_colourfulness_is_zero_for_grey_and_grows_with_saturation() -> None:
    rng = np.random.default_rng(0)
    colour = rng.random((32, 32, 3), dtype=np.float32)
    grey = np.repeat(colour.mean(axis=-1, keepdims=True), 3, axis=-1)
    assert colourfulness(grey) == pytest.approx(0.0, abs=1e-9)
    assert colourfulness(grey + 0.5 * (colour - grey)) < colourfulness(colour)
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1.0  # rg = 255, yb = 127.5, no spread: 0.3 · |(255, 127.5)|
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(255.0, 127.5))


@pytest.mark.slow
def test_quick_plan_through_bench_writes_every_row_and_goal_line(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    args = argparse.Namespace(only="keyframes", quick=True, workdir=tmp_path / "work", out=out,
                              plots_dir=tmp_path / "plots", command_line="chromaluma bench --only keyframes --quick")
    assert bench.run(args) == 0
    text = out.read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    for row in (TRUTH_ROW, GREY_ROW, HELD_ROW, BASELINE_ROW, FARNEBACK_ROW, PER_FRAME_ROW,
                *[keyframe_row(m) for m in PLAN.keyframe_minutes]):
        assert any(line.startswith(f"| {row} |") for line in table), row
    grey = next(line for line in table if line.startswith(f"| {GREY_ROW} |")).split(" | ")
    baseline = next(line for line in table if line.startswith(f"| {BASELINE_ROW} |")).split(" | ")
    assert float(baseline[1].split(" / ")[0]) < 0.5 * float(grey[1].split(" / ")[0])  # ΔE at the keyframe
    for minutes in PLAN.keyframe_minutes:
        name = keyframe_row(minutes)
        assert f"Goal, {name} beats the per-frame model" in text or f"Goals for {name}: not assessed" in text
    assert "Goal, render at 160×96 ≤ 1000 ms/frame" in text
