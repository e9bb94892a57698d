"""The quality goal's verdict: each part (≤ 2.0 mean ΔE2000, ≥ 2× lower than the best baseline) judged and shown."""

from __future__ import annotations

import pytest

from chromaluma.benchmarks.quality_plan import Scores
from chromaluma.benchmarks.quality_report import goal_verdict


def _rows(ours: float, lut: float) -> list[Scores]:
    return [Scores("faded scan, density graded (input)", [11.0]), Scores("3D LUT (17³)", [lut]),
            Scores("Reinhard colour transfer", [5.5]), Scores("Chromaluma chroma, 5 min CPU training", [ours + 0.5]),
            Scores("Chromaluma chroma, 15 min CPU training", [ours])]


@pytest.mark.parametrize(("ours", "lut", "delta_e_met", "ratio_met"), [
    (1.99, 2.38, True, False),  # under 2.0, but only 1.20× better than the LUT
    (2.10, 5.00, False, True),  # 2.4× better than the LUT, but above 2.0
    (1.10, 2.38, True, True),
    (2.30, 2.38, False, False),
])
def test_each_part_of_the_goal_is_judged_on_the_best_row(ours: float, lut: float, delta_e_met: bool,
                                                         ratio_met: bool) -> None:
    text, verdict = goal_verdict(_rows(ours, lut))
    assert (verdict["delta_e_met"], verdict["ratio_met"]) == (delta_e_met, ratio_met)
    assert verdict["met"] == (delta_e_met and ratio_met)
    assert verdict["chromaluma"] == pytest.approx(ours) and verdict["ratio"] == pytest.approx(lut / ours)
    said = {True: "met", False: "not met"}
    assert (f"**{said[delta_e_met and ratio_met]}** (≤ 2.0: {said[delta_e_met]}, {ours:.2f}; "
            f"≥ 2× lower: {said[ratio_met]}, baseline ÷ Chromaluma = {lut / ours:.2f})") in text


def test_no_chromaluma_row_is_not_assessed() -> None:
    text, verdict = goal_verdict([Scores("3D LUT (17³)", [2.38])])
    assert verdict == {"met": None} and "not assessed" in text
