"""The `confidence` benchmark area: AUROC (ties counted half), the decile table, and a quick run's report section."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks import confidence
from chromaluma.benchmarks.confidence_measure import auroc, confidence_deciles, predicted_error
from chromaluma.cli import main


@pytest.mark.parametrize(("scores", "positives", "expected"), [
    ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # 0.35 beats 0.1, loses to 0.4; 0.8 beats both: 3 of 4 pairs
    ([1.0, 2.0, 2.0, 3.0], [0, 1, 0, 1], 0.875),  # the tie 2 vs 2 counts half: (1 + 0.5 + 1 + 1) / 4
    ([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], 0.5),  # all tied: no information
    ([0.0, 0.2, 0.7, 0.9], [0, 0, 1, 1], 1.0),
    ([0.0, 0.2, 0.7, 0.9], [1, 1, 0, 0], 0.0),
    ([3.0, 1.0, 1.0, 2.0, 1.0], [1, 0, 1, 0, 0], 4 / 6),  # 3 beats all three negatives; 1 ties two (½ + ½)
])
def test_auroc_against_hand_computed_cases(scores: list[float], positives: list[int], expected: float):
    assert auroc(np.array(scores), np.array(positives)) == pytest.approx(expected)


def test_auroc_equals_counting_every_pair_with_many_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, 60).astype(float)  # four values among 60 pixels: ties everywhere
    positives = rng.random(60) > 0.4
    wins = [1.0 if p > n else 0.5 if p == n else 0.0
            for p, n in itertools.product(scores[positives], scores[~positives])]
    assert auroc(scores, positives) == pytest.approx(np.mean(wins))


def test_auroc_of_one_class_only_is_nan():
    assert np.isnan(auroc(np.array([0.1, 0.2]), np.array([True, True])))


def test_decile_table_orders_by_confidence_and_splits_evenly():
    confidence_values = np.random.default_rng(1).permutation(np.arange(23) / 23.0)
    error = 1.0 - confidence_values
    deciles = confidence_deciles(confidence_values, error)
    assert [d.pixels for d in deciles] == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert deciles[0].mean_confidence == pytest.approx(1 / 23) and deciles[0].mean_error == pytest.approx(22 / 23)
    assert (deciles[0].low, deciles[0].high) == (0.0, pytest.approx(2 / 23))
    assert deciles[-1].mean_error == pytest.approx(1.0 - 21.5 / 23)
    assert all(a.high <= b.low for a, b in itertools.pairwise(deciles))


def test_decile_table_keeps_tied_confidences_in_their_given_order():
    deciles = confidence_deciles(np.full(10, 0.5), np.arange(10.0))
    assert [d.mean_error for d in deciles] == list(np.arange(10.0))


def test_visible_error_is_counted_against_the_least_confident_tenth_only():
    from chromaluma.benchmarks.confidence_measure import VISIBLE_ERROR, ConfidenceSample, visible_error_caught

    confidence = np.linspace(0.0, 1.0, 100)  # pixel i is the i-th least confident
    error = np.full(100, VISIBLE_ERROR / 2)  # invisible everywhere …
    error[[0, 5, 9, 50]] = 2 * VISIBLE_ERROR  # … but at 3 pixels of the least confident tenth and one other
    error[20] = VISIBLE_ERROR  # at the threshold: not visible
    assert visible_error_caught(confidence, error) == pytest.approx(0.75)
    assert np.isnan(visible_error_caught(confidence, np.zeros(100)))
    sample = ConfidenceSample()
    sample.add(confidence.reshape(10, 10), error.reshape(10, 10))
    summary = sample.summary()
    assert summary["visible_share"] == pytest.approx(0.04)
    # pixels 0, 5, 9 and 50 are less confident than 96, 92, 89 and 49 of the 96 invisible ones
    assert summary["auroc_visible"] == pytest.approx((96 + 92 + 89 + 49) / (4 * 96))


def test_predicted_error_inverts_the_exported_confidence():
    assert predicted_error(np.exp(-np.array([0.0, 1.0, 2.0]))) == pytest.approx([0.0, 0.05, 0.1])


@pytest.mark.slow
def test_quick_run_of_the_area_writes_its_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(confidence, "KINDS", ("chroma",))  # the other kinds train the same way, slower
    out = tmp_path / "BENCHMARKS.md"
    assert main(["bench", "--only", "confidence", "--quick", "--out", str(out), "--workdir",
                 str(tmp_path / "work")]) == 0
    text = out.read_text()
    part = text[text.index("## Confidence"):]
    assert "### Confidence against error" in part and "### Mean error by confidence decile" in part
    rows = {line.split("|")[1].strip(): line for line in part.splitlines() if line.startswith("| ")}
    cells = [cell.strip() for cell in rows["chroma"].split("|")[1:-1]]
    assert int(cells[1]) >= 1 and int(cells[2]) > 1000, cells  # held-out frames and pixels counted
    assert 0.0 <= float(cells[3]) <= 1.0, cells  # an AUROC, not "—"
    assert cells[4] == "—" or 0.0 <= float(cells[4]) <= 1.0, cells  # the AUROC of visible error, if any is
    share, caught = (float(part.strip(" %")) for part in cells[5].split("/")) if "—" not in cells[5] else (0, 0)
    assert 0.0 <= share <= 100.0 and 0.0 <= caught <= 100.0, cells
    assert 1.0 <= float(cells[9]) < 1.6, cells  # the lattice ratio of a smooth confidence plane
    assert rows["10"].count("(") == 1  # decile 10's mean error (mean confidence)


def test_a_kind_that_cannot_train_is_a_row_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from chromaluma.benchmarks.quality_training import TrainingUnavailable

    def cannot(folder: Path, quick: bool, steps: int | None):
        raise TrainingUnavailable("training failed: --pairs has no frames")

    monkeypatch.setitem(confidence._SOURCES, "repair", cannot)
    table = confidence.run(tmp_path, True, steps=1, kinds=("repair",))[0].table
    assert "| repair | — | 0 | — |" in table and "not measured: training failed: --pairs has no frames" in table
