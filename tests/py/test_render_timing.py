"""How the benchmarks time a render (chromaluma.benchmarks.render_timing): the warm-up frames are left out, the
median of the rest is reported, and freed memory is kept only when asked (as `apply` renders, not a plug-in)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from chromaluma.benchmarks import render_timing
from chromaluma.benchmarks.render_timing import WARM_UP_FRAMES, steady_ms


class _Clock:
    """A perf_counter whose renders take the scripted seconds."""

    def __init__(self, seconds: list[float]) -> None:
        self.now, self.seconds, self.calls = 0.0, list(seconds), 0

    def perf_counter(self) -> float:
        return self.now

    def render(self) -> None:
        self.now += self.seconds[self.calls]
        self.calls += 1


@pytest.mark.parametrize("keep_freed", [True, False])
def test_the_median_of_the_frames_after_the_warm_up(monkeypatch: pytest.MonkeyPatch, keep_freed: bool):
    clock = _Clock([5.0] * WARM_UP_FRAMES + [1.0, 3.0, 2.0])  # counted with the warm-up, the median would be 5 s
    kept: list[bool] = []

    @contextlib.contextmanager
    def reuse() -> Iterator[None]:
        kept.append(True)
        yield

    monkeypatch.setattr(render_timing.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(render_timing, "reuse_freed_memory", reuse)
    assert steady_ms(clock.render, 3, keep_freed=keep_freed) == pytest.approx(2000.0)
    assert clock.calls == WARM_UP_FRAMES + 3
    assert kept == ([True] if keep_freed else [])
