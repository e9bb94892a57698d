"""Whether a run stopped while it was still learning: its error now against about a third of the run earlier.

A run stopped early (a few minutes on a busy machine) may have learnt only part of what its pairs hold and give a
nearly colourless model; `chromaluma train` then says so in one WARNING line and the model card records the
numbers. The error is the held-out validation score when validation frames exist and one was taken about a third
of the run earlier, else the training error: the loss without its confidence term (which can be negative),
averaged over a window of steps so that single noisy crops do not decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A run whose error fell by more than this fraction over its last third has not settled: more steps would still
# pay. Runs that have converged fall by a few per cent over their last third; the cosine decay of the learning rate
# adds a little more near the end, so the threshold sits clearly above both.
STILL_IMPROVING = 0.10
# Fewer steps than this give no trend worth reading (the error windows would be a step or two).
MIN_STEPS = 10
# A validation score counts as "earlier" only when taken at least this fraction of the run before the last one.
MIN_VALIDATION_SPAN = 1 / 6


@dataclass(frozen=True)
class Trend:
    """The error at two points of a run and how much it fell between them, scaled to a third of the run."""

    measure: str  # what was compared: "validation delta_e2000_mean", "validation psnr_db" or "training error"
    from_step: int
    from_value: float
    to_step: int
    to_value: float
    reduction: float  # relative error reduction per third of the run: 0.2 = the error fell by 20 %

    @property
    def still_improving(self) -> bool:
        return self.reduction > STILL_IMPROVING

    def describe(self) -> str:
        return (f"{self.measure} {self.from_value:.4g} at step {self.from_step} → {self.to_value:.4g} at step "
                f"{self.to_step}, {100 * self.reduction:.0f} % lower per third of the run")

    def record(self) -> dict[str, Any]:
        """The model card's entry (`training.trend`)."""
        return {"measure": self.measure, "from_step": self.from_step, "from": round(self.from_value, 6),
                "to_step": self.to_step, "to": round(self.to_value, 6), "reduction_per_third": round(self.reduction, 4),
                "threshold": STILL_IMPROVING}


def run_trend(errors: list[tuple[int, float]], validation: list[tuple[int, dict[str, float]]],
              headline: str) -> Trend | None:
    """The run's trend from its validation history (scores named `headline`), else from its training error per
    step (`errors`); None when the run is too short to tell."""
    return _validation_trend(validation, headline) or _error_trend(errors)


def _validation_trend(validation: list[tuple[int, dict[str, float]]], headline: str) -> Trend | None:
    if len(validation) < 2:
        return None
    last_step, last = validation[-1][0], validation[-1][1][headline]
    earlier = [(s, v[headline]) for s, v in validation[:-1] if s <= last_step * (1 - MIN_VALIDATION_SPAN)]
    if not earlier:
        return None
    step, value = min(earlier, key=lambda entry: abs(entry[0] - last_step * 2 / 3))
    if headline == "psnr_db":  # higher is better: compare the mean squared errors the dB values stand for
        reduction = 1.0 - 10.0 ** (-(last - value) / 10.0)
    else:
        reduction = (value - last) / value if value > 0 else 0.0
    per_third = 1.0 - (1.0 - reduction) ** ((last_step / 3) / (last_step - step)) if reduction < 1.0 else 1.0
    return Trend(f"validation {headline}", step, value, last_step, last, per_third)


def _error_trend(errors: list[tuple[int, float]]) -> Trend | None:
    count = len(errors)
    if count < MIN_STEPS:
        return None
    width = max(1, count // 6)
    end = round(count * 2 / 3)
    then, now = errors[end - width:end], errors[count - width:]
    then_value = sum(v for _, v in then) / width
    now_value = sum(v for _, v in now) / width
    reduction = (then_value - now_value) / then_value if then_value > 0 else 0.0
    return Trend("training error", then[-1][0], then_value, now[-1][0], now_value, reduction)
