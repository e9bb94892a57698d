"""The quality diagnosis splits a model's error into colour and density, training and held-out, outer columns and
inside: each split is checked with restorations that are wrong in exactly one of those ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromaluma.baselines import REC709, with_luma
from chromaluma.benchmarks.quality_diagnosis import compared_restorations, diagnose, main, markdown
from chromaluma.benchmarks.quality_plan import ShotPairs

WIDTH, HEIGHT, FRAMES, HELD_OUT, EDGE = 96, 48, 4, 1, 16
REPO = Path(__file__).resolve().parents[2]


def _shot(seed: int) -> ShotPairs:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.6, (1, 1, 3)) + 0.1 * np.sin(np.arange(WIDTH) / 7.0)[None, :, None]
    truth = [np.clip(base + rng.normal(0, 0.02, (HEIGHT, WIDTH, 3)), 0.2, 0.8).astype(np.float32)
             for _ in range(FRAMES)]
    return ShotPairs(f"shot {seed}", truth, [t.copy() for t in truth], [t.copy() for t in truth],
                     np.ones((HEIGHT, WIDTH), np.float32), HELD_OUT)


@pytest.fixture
def shots() -> list[ShotPairs]:
    return [_shot(1), _shot(2)]


def _rows(shots: list[ShotPairs], restore) -> dict[tuple[str, str], object]:
    return {(row.shot, row.part): row for row in diagnose(shots, restore, EDGE)}


def _recoloured(frame: np.ndarray, shift: float = 0.06) -> np.ndarray:
    """`frame` with its red-minus-luma colour difference changed and its luma kept."""
    moved = frame.copy()
    moved[..., 0] += shift
    return with_luma(moved, frame @ REC709)


def test_a_perfect_restoration_scores_zero_everywhere(shots: list[ShotPairs]) -> None:
    rows = _rows(shots, lambda number, index: shots[number].truth[index])
    assert len(rows) == 2 * len(shots) + 2
    for row in rows.values():
        assert max(row.all, row.colour, row.density, row.colour_outer, row.colour_inner, row.colour_cast,
                   row.colour_detail) < 1e-4


def test_a_lightness_error_is_density_not_colour(shots: list[ShotPairs]) -> None:
    rows = _rows(shots, lambda number, index: with_luma(shots[number].truth[index],
                                                        shots[number].truth[index] @ REC709 + 0.05))
    total = rows[("all shots", "held-out")]
    assert total.density > 1.0 and total.all > 1.0
    assert total.colour < 1e-4


def test_a_colour_error_is_colour_not_density(shots: list[ShotPairs]) -> None:
    rows = _rows(shots, lambda number, index: _recoloured(shots[number].truth[index]))
    total = rows[("all shots", "training")]
    assert total.colour > 1.0
    assert total.density < 1e-4


def test_errors_only_on_held_out_frames_leave_training_clean(shots: list[ShotPairs]) -> None:
    def restore(number: int, index: int) -> np.ndarray:
        truth = shots[number].truth[index]
        return _recoloured(truth) if index >= FRAMES - HELD_OUT else truth

    rows = _rows(shots, restore)
    assert rows[("all shots", "training")].colour < 1e-4
    assert rows[("all shots", "held-out")].colour > 1.0
    assert rows[("shot 2", "held-out")].colour > 1.0


def test_outer_columns_are_scored_apart(shots: list[ShotPairs]) -> None:
    def restore(number: int, index: int) -> np.ndarray:
        truth = shots[number].truth[index]
        out = truth.copy()
        out[:, -EDGE:] = _recoloured(truth[:, -EDGE:])
        return out

    total = _rows(shots, restore)[("all shots", "held-out")]
    assert total.colour_outer > 1.0
    assert total.colour_inner < 1e-4
    assert 0.0 < total.colour < total.colour_outer


def test_the_report_is_a_markdown_table(shots: list[ShotPairs]) -> None:
    text = markdown(diagnose(shots, lambda number, index: shots[number].truth[index], EDGE), EDGE)
    lines = text.splitlines()
    assert lines[0].count("|") == 10 and f"outer {EDGE} px" in lines[0] and "blurred over 8 px" in lines[0]
    assert "fine detail" in lines[0]
    assert len(lines) == 2 + 2 * len(shots) + 2 and lines[-1].startswith("| all shots | held-out |")


def test_the_command_diagnoses_the_bundled_model_on_the_quick_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(REPO / "models" / "chromaluma-demo-chroma.onnx"), "--quick"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-1].startswith("| all shots | held-out |")
    values = [float(cell) for cell in table[-1].strip("|").split("|")[2:]]
    assert all(np.isfinite(values)) and values[0] > 0.0


def test_outer_columns_start_at_the_references_picture(shots: list[ShotPairs]) -> None:
    """An overscan border without picture (mask 0) is not counted: the outer columns are the picture's own."""
    border = 10
    for shot in shots:
        shot.mask[:, :border] = shot.mask[:, -border:] = 0.0

    def restore(number: int, index: int) -> np.ndarray:
        truth = shots[number].truth[index]
        out = truth.copy()
        out[:, border:border + EDGE] = _recoloured(truth[:, border:border + EDGE])
        return out

    total = _rows(shots, restore)[("all shots", "training")]
    assert total.colour_outer > 1.0
    assert total.colour_inner < 1e-4


def test_a_cast_survives_the_blur_and_fine_colour_noise_does_not(shots: list[ShotPairs]) -> None:
    """A smooth colour cast scores about the same blurred and almost nothing in fine detail; a colour error that
    flips sign pixel by pixel (wrong colour in fine detail, right on average) nearly vanishes blurred and is all
    fine detail."""
    cast = _rows(shots, lambda number, index: _recoloured(shots[number].truth[index]))[("all shots", "held-out")]
    assert cast.colour > 1.0 and cast.colour_cast == pytest.approx(cast.colour, rel=0.1)
    assert cast.colour_detail < 0.2 * cast.colour

    def speckled(number: int, index: int) -> np.ndarray:
        truth = shots[number].truth[index]
        sign = np.where((np.indices(truth.shape[:2]).sum(axis=0) % 2) == 0, 1.0, -1.0)[..., None]
        return with_luma(truth + sign * np.array([0.06, 0.0, 0.0], np.float32), truth @ REC709)

    detail = _rows(shots, speckled)[("all shots", "held-out")]
    assert detail.colour > 1.0 and detail.colour_cast < 0.2 * detail.colour
    assert detail.colour_detail == pytest.approx(detail.colour, rel=0.1)


def test_compared_restorations_are_the_reference_and_a_lut_fitted_on_the_training_pairs(
        shots: list[ShotPairs]) -> None:
    """With a cast scan and a true reference, the reference scores zero and the LUT takes most of the cast out."""
    for shot in shots:
        shot.scans[:] = [_recoloured(truth, 0.1) for truth in shot.truth]
    compared = compared_restorations(shots)
    assert len(compared) == 2
    reference, lut = (diagnose(shots, restore, EDGE)[-1] for restore in compared.values())
    scan = diagnose(shots, lambda number, index: shots[number].scans[index], EDGE)[-1]
    assert reference.all < 1e-4
    assert scan.colour > 2.0 and lut.colour < 0.3 * scan.colour


def test_the_command_compares_with_the_reference_and_the_lut(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(REPO / "models" / "chromaluma-demo-chroma.onnx"), "--quick", "--compare"]) == 0
    out = capsys.readouterr().out
    headings = [line for line in out.splitlines() if line.startswith("### ")]
    assert headings == ["### chromaluma-demo-chroma.onnx", "### the DVD reference itself",
                        "### 3D LUT (17³), fitted per shot"]
    totals = [line for line in out.splitlines() if line.startswith("| all shots | held-out |")]
    assert len(totals) == 3 and len(set(totals)) == 3
